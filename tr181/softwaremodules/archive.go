package softwaremodules

import (
	"archive/tar"
	"bufio"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"
)

// maxUnpacked bounds what one Deployment Unit may unpack to.
const maxUnpacked = 4 << 30

// errTooBig is wrapped when an archive unpacks to more than the limit.
var errTooBig = errors.New("softwaremodules: deployment unit too large")

// openArchive opens a tar file, gzip-compressed or not.
func openArchive(src string) (*tar.Reader, io.Closer, error) {
	f, err := os.Open(src)
	if err != nil {
		return nil, nil, err
	}
	br := bufio.NewReader(f)
	magic, _ := br.Peek(2)
	var r io.Reader = br
	if len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		gz, err := gzip.NewReader(br)
		if err != nil {
			f.Close()
			return nil, nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
		}
		r = gz
	}
	return tar.NewReader(r), f, nil
}

// readArchiveFile returns the content of the regular file name (at most
// max bytes) in the tar file src, or fs.ErrNotExist.
func readArchiveFile(src, name string, max int64) ([]byte, error) {
	tr, c, err := openArchive(src)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil, fs.ErrNotExist
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
		}
		if clean(h.Name) == name && h.Typeflag == tar.TypeReg {
			if h.Size > max {
				return nil, fmt.Errorf("%w: %s is %d bytes", ErrCorrupt, name, h.Size)
			}
			return io.ReadAll(io.LimitReader(tr, max))
		}
	}
}

// clean returns an archive member's name relative to the archive's root
// ("./a/b/" → "a/b"), "" for the root itself.
func clean(name string) string {
	n := path.Clean("/" + name)
	return strings.TrimPrefix(n, "/")
}

// unpack extracts the tar file src into dir. Every write goes through an
// os.Root, so no member (a "../" name, a symbolic link planted earlier)
// reaches outside dir. Regular files, directories and symbolic links are
// kept, hard links within the archive too; devices and other kinds are refused.
func unpack(src, dir string) error {
	tr, c, err := openArchive(src)
	if err != nil {
		return err
	}
	defer c.Close()
	root, err := os.OpenRoot(dir)
	if err != nil {
		return err
	}
	defer root.Close()
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
		if err := root.MkdirAll(path.Dir(name), 0o755); err != nil && path.Dir(name) != "." {
			return fmt.Errorf("%w: %s: %v", ErrCorrupt, name, err)
		}
		if total += h.Size; total > maxUnpacked {
			return errTooBig
		}
		if err := extractMember(root, h, name, tr); err != nil {
			return err
		}
	}
}

// extractMember writes one archive member under root.
func extractMember(root *os.Root, h *tar.Header, name string, r io.Reader) error {
	mode := fs.FileMode(h.Mode).Perm()
	switch h.Typeflag {
	case tar.TypeDir:
		if err := root.MkdirAll(name, mode|0o700); err != nil {
			return fmt.Errorf("%w: %s: %v", ErrCorrupt, name, err)
		}
	case tar.TypeReg:
		return writeMember(root, name, mode, r)
	case tar.TypeSymlink:
		if err := root.Symlink(h.Linkname, name); err != nil {
			return fmt.Errorf("%w: %s: %v", ErrCorrupt, name, err)
		}
	case tar.TypeLink:
		if err := root.Link(clean(h.Linkname), name); err != nil {
			return fmt.Errorf("%w: %s: %v", ErrCorrupt, name, err)
		}
	default:
		return fmt.Errorf("%w: %s: member type %q refused", ErrCorrupt, name, h.Typeflag)
	}
	return nil
}

func writeMember(root *os.Root, name string, mode fs.FileMode, r io.Reader) error {
	f, err := root.OpenFile(name, os.O_CREATE|os.O_EXCL|os.O_WRONLY, mode)
	if err != nil {
		return fmt.Errorf("%w: %s: %v", ErrCorrupt, name, err)
	}
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		return fmt.Errorf("%w: %s: %v", ErrCorrupt, name, err)
	}
	return f.Close()
}
