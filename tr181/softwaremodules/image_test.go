package softwaremodules_test

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/uspkit/uspkit/tr181/softwaremodules"
	"github.com/uspkit/uspkit/usperr"
)

// imageLayout builds an OCI image layout: a first layer with busybox and
// /etc/secret, a second (uncompressed) that whites /etc/secret out and
// adds /etc/hello, and an image configuration running script. corrupt
// changes the second layer after its digest is taken.
func imageLayout(t *testing.T, busybox, script string, corrupt bool) []byte {
	t.Helper()
	bb, err := os.ReadFile(busybox)
	if err != nil {
		t.Fatal(err)
	}
	layer1 := tarball(t, map[string][]byte{"bin/busybox": bb, "etc/secret": []byte("s")}, "bin/", "bin/busybox", "@link:bin/sh=busybox", "etc/", "etc/secret")
	var l2 bytes.Buffer
	tw := tar.NewWriter(&l2)
	for _, f := range []struct{ name, body string }{{"etc/.wh.secret", ""}, {"etc/hello", "from layer 2\n"}} {
		tw.WriteHeader(&tar.Header{Name: f.name, Mode: 0o644, Size: int64(len(f.body))})
		tw.Write([]byte(f.body))
	}
	tw.Close()
	layer2 := l2.Bytes()
	blobs := map[string][]byte{}
	desc := func(media string, b []byte) map[string]any {
		sum := sha256.Sum256(b)
		d := hex.EncodeToString(sum[:])
		blobs["blobs/sha256/"+d] = b
		return map[string]any{"mediaType": media, "digest": "sha256:" + d, "size": len(b)}
	}
	cfg, _ := json.Marshal(map[string]any{"architecture": "amd64", "os": "linux",
		"config": map[string]any{"Entrypoint": []string{"/bin/busybox", "sh", "-c"}, "Cmd": []string{script}, "Env": []string{"PATH=/bin"}},
		"rootfs": map[string]any{"type": "layers", "diff_ids": []string{}}})
	l1d := desc("application/vnd.oci.image.layer.v1.tar+gzip", layer1)
	l2d := desc("application/vnd.oci.image.layer.v1.tar", layer2)
	man, _ := json.Marshal(map[string]any{"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
		"config": desc("application/vnd.oci.image.config.v1+json", cfg), "layers": []any{l1d, l2d},
		"annotations": map[string]string{softwaremodules.AnnotationTitle: "img", softwaremodules.AnnotationVendor: "Acme"}})
	md := desc("application/vnd.oci.image.manifest.v1+json", man)
	md["annotations"] = map[string]string{"org.opencontainers.image.ref.name": "img:3.1"}
	idx, _ := json.Marshal(map[string]any{"schemaVersion": 2, "manifests": []any{md}})
	if corrupt {
		b := blobs["blobs/sha256/"+strings.TrimPrefix(l2d["digest"].(string), "sha256:")]
		b[bytes.Index(b, []byte("from layer"))] ^= 1 // still a tar file, no longer the digest's
	}
	files := map[string][]byte{"oci-layout": []byte(`{"imageLayoutVersion":"1.0.0"}`), "index.json": idx}
	order := []string{"oci-layout", "index.json", "blobs/", "blobs/sha256/"}
	for name, b := range blobs {
		files[name] = b
		order = append(order, name)
	}
	return tarball(t, files, order...)
}

// TestOCIImageLayout: an OCI image layout installs as a bundle built from
// the image (layers in order, whiteouts applied, Entrypoint and Cmd run),
// named from its annotations and ref.name; a blob that does not match its
// digest is corrupt (7035).
func TestOCIImageLayout(t *testing.T) {
	runc, busybox := ociRuntime(t)
	env := ociEnv(t, runc)
	srv, base := serve(t)
	srv.put("/img.tar", imageLayout(t, busybox, "cat /etc/hello; test -e /etc/secret && echo SECRET; echo done; "+
		"trap 'exit 0' TERM; while true; do /bin/busybox sleep 0.2; done", false))
	srv.put("/bad.tar", imageLayout(t, busybox, "true", true))
	r := newRig(t, t.TempDir(), env)
	defer r.m.Close()
	if err := r.operate("Device.SoftwareModules.InstallDU()", map[string]string{"URL": base + "/bad.tar"}); usperr.Code(err) != usperr.CodeCommandFailure ||
		!strings.Contains(err.Error(), "digest") {
		t.Errorf("InstallDU of a layout with a bad blob: %v, want 7022 naming the digest", err)
	}
	expectEvent(t, r.ev.next(t), map[string]string{"CurrentState": "Failed", "Fault.FaultCode": "7035"})
	if err := r.operate("Device.SoftwareModules.InstallDU()", map[string]string{"URL": base + "/img.tar"}); err != nil {
		t.Fatalf("InstallDU: %v", err)
	}
	expectEvent(t, r.ev.next(t), map[string]string{"CurrentState": "Installed", "Version": "3.1"})
	if du := r.get(du1); du["Name"] != "img" || du["Version"] != "3.1" || du["Vendor"] != "Acme" {
		t.Errorf("DeploymentUnit.1 = %v", du)
	}
	if err := r.operate(eu1+"SetRequestedState()", map[string]string{"RequestedState": "Active"}); err != nil {
		t.Fatal(err)
	}
	r.waitStatus(eu1, "Active")
	waitLog(t, r.m.LogPath(1), "done")
	b, _ := os.ReadFile(r.m.LogPath(1))
	if !strings.Contains(string(b), "from layer 2") || strings.Contains(string(b), "SECRET") {
		t.Errorf("container output %q: want the second layer's file and the first's whited out", b)
	}
}
