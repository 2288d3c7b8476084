package softwaremodules

import (
	"archive/tar"
	"bufio"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
)

// Media types of an OCI image layout this package reads.
const (
	mediaIndex    = "application/vnd.oci.image.index.v1+json"
	mediaManifest = "application/vnd.oci.image.manifest.v1+json"
	// annotationRefName names an image in index.json ("1.0", "app:1.0").
	annotationRefName = "org.opencontainers.image.ref.name"
)

type descriptor struct {
	MediaType   string            `json:"mediaType"`
	Digest      string            `json:"digest"`
	Size        int64             `json:"size"`
	Annotations map[string]string `json:"annotations"`
}

type imageIndex struct {
	Manifests []descriptor `json:"manifests"`
}

type imageManifest struct {
	Config      descriptor        `json:"config"`
	Layers      []descriptor      `json:"layers"`
	Annotations map[string]string `json:"annotations"`
}

type imageConfig struct {
	Config struct {
		User       string            `json:"User"`
		Env        []string          `json:"Env"`
		Entrypoint []string          `json:"Entrypoint"`
		Cmd        []string          `json:"Cmd"`
		WorkingDir string            `json:"WorkingDir"`
		Labels     map[string]string `json:"Labels"`
	} `json:"config"`
}

// unpackImage turns an OCI image layout into a runtime bundle in dir: the
// layers, each checked against its digest, applied in order to rootfs/
// (whiteouts included), and a config.json built from the image's
// configuration (Entrypoint and Cmd, Env, WorkingDir, a numeric User).
// The unit's name and version come from the manifest's annotations, else
// the image configuration's labels, else index.json's ref.name
// ("app:1.0" is app, version 1.0).
func unpackImage(src, dir string) (Manifest, error) {
	img := filepath.Join(dir, ".image")
	if err := os.Mkdir(img, 0o700); err != nil {
		return Manifest{}, err
	}
	defer os.RemoveAll(img)
	if err := unpack(src, img); err != nil {
		return Manifest{}, err
	}
	blobs, err := os.OpenRoot(img)
	if err != nil {
		return Manifest{}, err
	}
	defer blobs.Close()
	var idx imageIndex
	if err := readJSON(blobs, "index.json", &idx); err != nil {
		return Manifest{}, err
	}
	if len(idx.Manifests) == 0 {
		return Manifest{}, fmt.Errorf("%w: index.json lists no manifest", ErrCorrupt)
	}
	desc := idx.Manifests[0]
	if desc.MediaType == mediaIndex { // one level of nested index
		var inner imageIndex
		if err := readBlobJSON(blobs, desc, &inner); err != nil {
			return Manifest{}, err
		}
		if len(inner.Manifests) == 0 {
			return Manifest{}, fmt.Errorf("%w: nested index lists no manifest", ErrCorrupt)
		}
		ref := desc.Annotations[annotationRefName]
		desc = inner.Manifests[0]
		if desc.Annotations == nil && ref != "" {
			desc.Annotations = map[string]string{annotationRefName: ref}
		}
	}
	if desc.MediaType != "" && desc.MediaType != mediaManifest {
		return Manifest{}, fmt.Errorf("%w: manifest media type %q", ErrCorrupt, desc.MediaType)
	}
	var man imageManifest
	if err := readBlobJSON(blobs, desc, &man); err != nil {
		return Manifest{}, err
	}
	var cfg imageConfig
	if err := readBlobJSON(blobs, man.Config, &cfg); err != nil {
		return Manifest{}, err
	}
	m := imageManifestInfo(desc.Annotations[annotationRefName], man.Annotations, cfg.Config.Labels)
	if m.Name == "" || m.Version == "" {
		return Manifest{}, fmt.Errorf("%w: the image has no name and version (annotations %s, %s or %s)", ErrCorrupt, AnnotationTitle, AnnotationVersion, annotationRefName)
	}
	rootfs := filepath.Join(dir, "rootfs")
	if err := os.Mkdir(rootfs, 0o755); err != nil {
		return Manifest{}, err
	}
	for _, l := range man.Layers {
		if err := applyLayer(blobs, l, rootfs); err != nil {
			return Manifest{}, err
		}
	}
	b, err := bundleFromImage(&cfg, m)
	if err != nil {
		return Manifest{}, err
	}
	return m, os.WriteFile(filepath.Join(dir, "config.json"), b, 0o600)
}

func imageManifestInfo(ref string, ann, labels map[string]string) Manifest {
	pick := func(k string) string {
		if v := ann[k]; v != "" {
			return v
		}
		return labels[k]
	}
	m := Manifest{Name: pick(AnnotationTitle), Version: pick(AnnotationVersion), Vendor: pick(AnnotationVendor), Description: pick(AnnotationDescription)}
	name, tag, found := strings.Cut(ref, ":")
	if !found {
		name, tag = "", ref
	}
	if m.Name == "" {
		m.Name = name
	}
	if m.Version == "" {
		m.Version = tag
	}
	return m
}

func readJSON(r *os.Root, name string, v any) error {
	f, err := r.Open(name)
	if err != nil {
		return fmt.Errorf("%w: %s: %v", ErrCorrupt, name, err)
	}
	defer f.Close()
	if err := json.NewDecoder(io.LimitReader(f, 4<<20)).Decode(v); err != nil {
		return fmt.Errorf("%w: %s: %v", ErrCorrupt, name, err)
	}
	return nil
}

// openBlob opens a blob and checks its digest as it is read (sha256 only).
func openBlob(r *os.Root, d descriptor) (io.Reader, func() error, error) {
	alg, hexd, ok := strings.Cut(d.Digest, ":")
	if !ok || alg != "sha256" || len(hexd) != 64 || strings.ContainsAny(hexd, "./") {
		return nil, nil, fmt.Errorf("%w: digest %q is not sha256", ErrCorrupt, d.Digest)
	}
	f, err := r.Open(path.Join("blobs", alg, hexd))
	if err != nil {
		return nil, nil, fmt.Errorf("%w: blob %s: %v", ErrCorrupt, d.Digest, err)
	}
	h := sha256.New()
	tr := io.TeeReader(f, h)
	check := func() error {
		defer f.Close()
		if _, err := io.Copy(io.Discard, tr); err != nil {
			return fmt.Errorf("%w: blob %s: %v", ErrCorrupt, d.Digest, err)
		}
		if hex.EncodeToString(h.Sum(nil)) != hexd {
			return fmt.Errorf("%w: blob %s does not match its digest", ErrCorrupt, d.Digest)
		}
		return nil
	}
	return tr, check, nil
}

func readBlobJSON(r *os.Root, d descriptor, v any) error {
	rd, check, err := openBlob(r, d)
	if err != nil {
		return err
	}
	derr := json.NewDecoder(io.LimitReader(rd, 4<<20)).Decode(v)
	if err := check(); err != nil {
		return err
	}
	if derr != nil {
		return fmt.Errorf("%w: blob %s: %v", ErrCorrupt, d.Digest, derr)
	}
	return nil
}

// applyLayer extracts one layer (tar, gzip or not) over rootfs: a member
// replaces what was there, ".wh.NAME" deletes NAME and ".wh..wh..opq"
// empties its directory (OCI image-spec, "Whiteouts").
func applyLayer(blobs *os.Root, d descriptor, rootfs string) error {
	rd, check, err := openBlob(blobs, d)
	if err != nil {
		return err
	}
	br := bufio.NewReader(rd)
	var r io.Reader = br
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		gz, err := gzip.NewReader(br)
		if err != nil {
			check()
			return fmt.Errorf("%w: layer %s: %v", ErrCorrupt, d.Digest, err)
		}
		r = gz
	}
	root, err := os.OpenRoot(rootfs)
	if err != nil {
		check()
		return err
	}
	defer root.Close()
	if err := extractLayer(tar.NewReader(r), root); err != nil {
		check()
		return fmt.Errorf("layer %s: %w", d.Digest, err)
	}
	return check()
}

func extractLayer(tr *tar.Reader, root *os.Root) error {
	var total int64
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%w: %v", ErrCorrupt, err)
		}
		name := clean(h.Name)
		if name == "" {
			continue
		}
		dirName, base := path.Split(name)
		if base == ".wh..wh..opq" {
			if err := emptyDir(root, path.Clean("./"+dirName)); err != nil {
				return err
			}
			continue
		}
		if victim, ok := strings.CutPrefix(base, ".wh."); ok {
			_ = root.RemoveAll(path.Join(dirName, victim))
			continue
		}
		if err := root.MkdirAll(path.Dir(name), 0o755); err != nil && path.Dir(name) != "." {
			return fmt.Errorf("%w: %s: %v", ErrCorrupt, name, err)
		}
		if h.Typeflag != tar.TypeDir {
			_ = root.RemoveAll(name)
		}
		total += h.Size
		if total > maxUnpacked {
			return errTooBig
		}
		if err := extractMember(root, h, name, tr); err != nil {
			return err
		}
	}
}

func emptyDir(root *os.Root, dir string) error {
	f, err := root.Open(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("%w: %s: %v", ErrCorrupt, dir, err)
	}
	names, err := f.Readdirnames(-1)
	f.Close()
	if err != nil {
		return fmt.Errorf("%w: %s: %v", ErrCorrupt, dir, err)
	}
	for _, n := range names {
		_ = root.RemoveAll(path.Join(dir, n))
	}
	return nil
}

// bundleFromImage builds the config.json of an image's bundle.
func bundleFromImage(cfg *imageConfig, m Manifest) ([]byte, error) {
	c := cfg.Config
	args := append(append([]string{}, c.Entrypoint...), c.Cmd...)
	if len(args) == 0 {
		return nil, fmt.Errorf("%w: the image has neither Entrypoint nor Cmd", ErrCorrupt)
	}
	uid, gid := 0, 0
	if c.User != "" {
		u, g, _ := strings.Cut(c.User, ":")
		var err error
		if uid, err = strconv.Atoi(u); err != nil {
			return nil, fmt.Errorf("%w: User %q is not numeric", ErrCorrupt, c.User)
		}
		if g != "" {
			if gid, err = strconv.Atoi(g); err != nil {
				return nil, fmt.Errorf("%w: User %q is not numeric", ErrCorrupt, c.User)
			}
		}
	}
	env := c.Env
	if len(env) == 0 {
		env = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
	}
	cwd := c.WorkingDir
	if cwd == "" {
		cwd = "/"
	}
	b := map[string]any{
		"ociVersion": "1.0.2",
		"process": map[string]any{"terminal": false, "user": map[string]int{"uid": uid, "gid": gid}, "args": args, "env": env, "cwd": cwd,
			"noNewPrivileges": true},
		"root":     map[string]any{"path": "rootfs", "readonly": false},
		"hostname": "uspkit",
		"mounts": []map[string]any{
			{"destination": "/proc", "type": "proc", "source": "proc"},
			{"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": []string{"nosuid", "strictatime", "mode=755", "size=65536k"}},
			{"destination": "/dev/pts", "type": "devpts", "source": "devpts", "options": []string{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"}},
			{"destination": "/dev/shm", "type": "tmpfs", "source": "shm", "options": []string{"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}},
			{"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": []string{"nosuid", "noexec", "nodev", "ro"}},
		},
		"linux": map[string]any{
			"namespaces":    []map[string]string{{"type": "pid"}, {"type": "network"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"}},
			"maskedPaths":   []string{"/proc/kcore", "/proc/keys", "/proc/timer_list", "/sys/firmware"},
			"readonlyPaths": []string{"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"},
		},
		"annotations": map[string]string{AnnotationTitle: m.Name, AnnotationVersion: m.Version, AnnotationVendor: m.Vendor, AnnotationDescription: m.Description},
	}
	return json.MarshalIndent(b, "", " ")
}
