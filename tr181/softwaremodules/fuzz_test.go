package softwaremodules_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/uspkit/uspkit/tr181/softwaremodules"
)

// FuzzUnpack feeds arbitrary files to both execution environments'
// Unpack: nothing panics, and nothing is written outside the unit's
// directory.
func FuzzUnpack(f *testing.F) {
	f.Add(processDU(f, "a", "1", "true"))
	f.Add(tarball(f, map[string][]byte{"config.json": []byte(`{"process":{"args":["/x"]},"root":{"path":"rootfs"},"annotations":{"org.opencontainers.image.title":"a","org.opencontainers.image.version":"1"}}`)}, "config.json"))
	f.Add(tarball(f, map[string][]byte{"oci-layout": []byte(`{}`), "index.json": []byte(`{"manifests":[{"digest":"sha256:00"}]}`)}, "oci-layout", "index.json"))
	f.Add([]byte("not an archive"))
	f.Fuzz(func(t *testing.T, b []byte) {
		base := t.TempDir()
		src := filepath.Join(base, "du")
		if err := os.WriteFile(src, b, 0o600); err != nil {
			t.Fatal(err)
		}
		envs := []softwaremodules.ExecEnv{softwaremodules.ProcessEnv{},
			softwaremodules.NewOCI(&softwaremodules.OCIOptions{StateDir: filepath.Join(base, "state")})}
		for i, e := range envs {
			dir := filepath.Join(base, "unit", string(rune('a'+i)))
			if err := os.MkdirAll(dir, 0o700); err != nil {
				t.Fatal(err)
			}
			_, _ = e.Unpack(context.Background(), src, dir)
		}
		filepath.WalkDir(base, func(p string, d os.DirEntry, err error) error {
			if err == nil && p != base && p != src && !strings.HasPrefix(p, filepath.Join(base, "unit")) {
				t.Errorf("Unpack wrote %s", p)
			}
			return nil
		})
	})
}
