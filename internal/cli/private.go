package cli

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"

	"github.com/uspkit/uspkit/schema"
	"github.com/uspkit/uspkit/store/seal"
)

// privateDir creates the data directory dir with mode 0700, or restricts
// an existing one that others may read or enter: it holds databases,
// tokens and keys.
func privateDir(dir string, log *slog.Logger) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return err
	}
	if fi.Mode().Perm()&0o077 == 0 {
		return nil
	}
	log.Warn("data directory was open to others; restricting it to its owner", "dir", dir, "mode", fmt.Sprintf("%o", fi.Mode().Perm()))
	return os.Chmod(dir, fi.Mode().Perm()&0o700|0o700)
}

// sealStore wraps an Agent's store so that the Secured parameters of m
// (passwords) are encrypted at rest with the key in dir/secret.key.
func sealStore(ctx context.Context, inner seal.Store, dir string, m *schema.Model, log *slog.Logger) (*seal.Sealed, error) {
	key, err := seal.LoadKey(filepath.Join(dir, seal.KeyFile))
	if err != nil {
		return nil, err
	}
	return seal.New(ctx, inner, &seal.Options{Key: key, Secret: securedParam(m), Logger: log})
}

// securedParam reports whether param of the object at an instance path
// is Secured in m. The store asks about every parameter of each object it
// writes, one object after the other, so the schema object of the last
// path asked about is kept: objectPattern allocates for an instance path.
func securedParam(m *schema.Model) func(path, param string) bool {
	type lastObject struct {
		path string
		obj  *schema.Object
	}
	var last atomic.Pointer[lastObject]
	return func(path, param string) bool {
		var o *schema.Object
		if l := last.Load(); l != nil && l.path == path {
			o = l.obj
		} else if o = m.Object(objectPattern(path)); o != nil {
			last.Store(&lastObject{path, o})
		}
		if o == nil {
			return false
		}
		p := o.Param(param)
		return p != nil && p.Secured
	}
}

// objectPattern turns an instance path ("Device.MQTT.Client.1.") into its
// schema pattern ("Device.MQTT.Client.{i}.").
func objectPattern(path string) string {
	var b []byte // nil while path has no instance number
	start := 0
	for i := 0; i <= len(path); i++ {
		if i < len(path) && path[i] != '.' {
			continue
		}
		seg := path[start:i]
		if seg != "" && strings.Trim(seg, "0123456789") == "" {
			if b == nil {
				b = make([]byte, 0, len(path)+8)
				b = append(b, path[:start]...)
			}
			b = append(b, "{i}"...)
		} else if b != nil {
			b = append(b, seg...)
		}
		if b != nil && i < len(path) {
			b = append(b, '.')
		}
		start = i + 1
	}
	if b == nil {
		return path
	}
	return string(b)
}
