package filestore

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"
)

// File is one stored file.
type File struct {
	ID      string    `json:"id"`
	Name    string    `json:"name"`
	Size    int64     `json:"size"`
	SHA256  string    `json:"sha256"`
	Created time.Time `json:"created"`
	// Token is the secret part of the file's URL: 128 random bits.
	Token string `json:"token"`
}

// Path is the file's URL path on the Controller's HTTP listener.
func (f File) Path() string { return "/files/" + f.Token + "/" + f.Name }

// Errors callers branch on.
var (
	ErrNotFound = errors.New("filestore: no such file")
	ErrTooLarge = errors.New("filestore: file too large")
	ErrName     = errors.New("filestore: bad file name")
)

// Store is a directory of files. Create it with Open.
type Store struct {
	dir string
	log *slog.Logger

	mu    sync.Mutex
	files map[string]File // by ID
}

// Open opens (creating it if need be) the store in dir and reads what it
// holds; a file without its description, or the reverse, is ignored.
func Open(dir string, log *slog.Logger) (*Store, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("filestore: %w", err)
	}
	s := &Store{dir: dir, log: log, files: map[string]File{}}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("filestore: %w", err)
	}
	for _, e := range ents {
		id, ok := strings.CutSuffix(e.Name(), ".json")
		if !ok {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		var f File
		if err == nil {
			err = json.Unmarshal(b, &f)
		}
		if err == nil && f.ID != id {
			err = errors.New("id mismatch")
		}
		if err == nil {
			_, err = os.Stat(s.data(id))
		}
		if err != nil {
			log.Warn("filestore: entry ignored", "entry", e.Name(), "err", err)
			continue
		}
		s.files[id] = f
	}
	return s, nil
}

func (s *Store) data(id string) string { return filepath.Join(s.dir, id+".bin") }

func random(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// validName accepts a plain file name: no path separators, no leading
// dot, printable ASCII, at most 128 bytes.
func validName(n string) bool {
	if n == "" || len(n) > 128 || n[0] == '.' {
		return false
	}
	for i := 0; i < len(n); i++ {
		c := n[i]
		if c <= ' ' || c >= 0x7f || c == '/' || c == '\\' || c == '%' || c == '?' || c == '#' {
			return false
		}
	}
	return true
}

// Put stores what r holds under name, up to max bytes (0: no limit),
// hashing it on the way.
func (s *Store) Put(name string, r io.Reader, max int64) (File, error) {
	if !validName(name) {
		return File{}, fmt.Errorf("%w: %q", ErrName, name)
	}
	f := File{ID: random(8), Name: name, Token: random(16), Created: time.Now().UTC()}
	tmp, err := os.CreateTemp(s.dir, "upload-*")
	if err != nil {
		return File{}, fmt.Errorf("filestore: %w", err)
	}
	defer os.Remove(tmp.Name())
	h := sha256.New()
	src := r
	if max > 0 {
		src = io.LimitReader(r, max+1)
	}
	n, err := io.Copy(io.MultiWriter(tmp, h), src)
	if err == nil && max > 0 && n > max {
		err = fmt.Errorf("%w: over %d bytes", ErrTooLarge, max)
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return File{}, fmt.Errorf("filestore: %w", err)
	}
	f.Size, f.SHA256 = n, hex.EncodeToString(h.Sum(nil))
	if err := os.Rename(tmp.Name(), s.data(f.ID)); err != nil {
		return File{}, fmt.Errorf("filestore: %w", err)
	}
	b, _ := json.Marshal(f)
	if err := os.WriteFile(filepath.Join(s.dir, f.ID+".json"), b, 0o600); err != nil {
		os.Remove(s.data(f.ID))
		return File{}, fmt.Errorf("filestore: %w", err)
	}
	s.mu.Lock()
	s.files[f.ID] = f
	s.mu.Unlock()
	return f, nil
}

// List returns the files, oldest first.
func (s *Store) List() []File {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]File, 0, len(s.files))
	for _, f := range s.files {
		out = append(out, f)
	}
	slices.SortFunc(out, func(a, b File) int { return a.Created.Compare(b.Created) })
	return out
}

// Get returns one file's description.
func (s *Store) Get(id string) (File, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, ok := s.files[id]
	if !ok {
		return File{}, fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	return f, nil
}

// Delete removes a file; its URL stops working.
func (s *Store) Delete(id string) error {
	s.mu.Lock()
	_, ok := s.files[id]
	delete(s.files, id)
	s.mu.Unlock()
	if !ok {
		return fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	err := os.Remove(filepath.Join(s.dir, id+".json"))
	if rerr := os.Remove(s.data(id)); err == nil {
		err = rerr
	}
	return err
}

// ServeHTTP serves GET and HEAD /files/TOKEN/NAME (with ranges, so an
// interrupted download can go on); anything else is 404, the same answer
// for a wrong token as for a missing file.
func (s *Store) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rest, ok := strings.CutPrefix(r.URL.Path, "/files/")
	token, name, ok2 := strings.Cut(rest, "/")
	if !ok || !ok2 || (r.Method != http.MethodGet && r.Method != http.MethodHead) {
		http.NotFound(w, r)
		return
	}
	var f File
	found := false
	s.mu.Lock()
	for _, x := range s.files {
		if subtle.ConstantTimeCompare([]byte(x.Token), []byte(token)) == 1 && x.Name == name {
			f, found = x, true
			break
		}
	}
	s.mu.Unlock()
	if !found {
		http.NotFound(w, r)
		return
	}
	fh, err := os.Open(s.data(f.ID))
	if err != nil {
		s.log.Warn("filestore: file not served", "id", f.ID, "err", err)
		http.NotFound(w, r)
		return
	}
	defer fh.Close()
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("ETag", `"`+f.SHA256+`"`)
	w.Header().Set("Cache-Control", "private, no-store")
	// A large image takes longer than the server's write timeout: allow
	// ten minutes and a second per 64 KiB.
	_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(10*time.Minute + time.Duration(f.Size>>16)*time.Second))
	http.ServeContent(w, r, f.Name, f.Created, fh)
}
