package seal

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"maps"
	"os"
	"strings"

	"github.com/uspkit/uspkit/store"
)

// Prefix starts every sealed value: version 1 is AES-256-GCM, a 12-byte
// nonce and the ciphertext with its tag, in unpadded standard base64.
const Prefix = "sealed:v1:"

// KeyFile is the usual name of the key file in a data directory.
const KeyFile = "secret.key"

// KeySize is the key length in bytes (AES-256).
const KeySize = 32

// Store is what New wraps: agent.Store's methods, which store.Memory and
// store/sqlite.DB have.
type Store interface {
	Load(ctx context.Context) (*store.Snapshot, error)
	Apply(ctx context.Context, b *store.Batch) error
}

// Options configure New.
type Options struct {
	// Key is the AES-256 key, KeySize bytes (see LoadKey). Required.
	Key []byte
	// Secret reports whether the parameter param of the object at path
	// (an instance path such as "Device.MQTT.Client.1.") holds a secret.
	// Required.
	Secret func(path, param string) bool
	// Logger receives values that would not open; nil discards them.
	Logger *slog.Logger
}

// Sealed is a Store whose secret values are encrypted in the Store it
// wraps. It is safe for concurrent use when the wrapped Store is.
type Sealed struct {
	inner  Store
	aead   cipher.AEAD
	secret func(path, param string) bool
	log    *slog.Logger
}

// New wraps inner, first sealing the secret values inner holds in plain
// text (a store written before sealing was used), in one Apply.
func New(ctx context.Context, inner Store, o *Options) (*Sealed, error) {
	if o == nil || o.Secret == nil || len(o.Key) != KeySize {
		return nil, fmt.Errorf("seal: want a %d-byte key and a Secret func", KeySize)
	}
	block, err := aes.NewCipher(o.Key)
	if err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	s := &Sealed{inner: inner, aead: aead, secret: o.Secret, log: o.Logger}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if err := s.migrate(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// migrate seals the plain secret values already stored.
func (s *Sealed) migrate(ctx context.Context) error {
	snap, err := s.inner.Load(ctx)
	if err != nil {
		return fmt.Errorf("seal: %w", err)
	}
	var b store.Batch
	for _, o := range snap.Objects {
		for name, v := range o.Params {
			if v != "" && !strings.HasPrefix(v, Prefix) && s.secret(o.Path, name) {
				b.Put = append(b.Put, s.sealObject(o))
				break
			}
		}
	}
	if len(b.Put) == 0 {
		return nil
	}
	if err := s.inner.Apply(ctx, &b); err != nil {
		return fmt.Errorf("seal: sealing %d stored objects: %w", len(b.Put), err)
	}
	// Leave no copy of the plain values in a write-ahead log.
	if cp, ok := s.inner.(interface{ Checkpoint(context.Context) error }); ok {
		if err := cp.Checkpoint(ctx); err != nil {
			return fmt.Errorf("seal: %w", err)
		}
	}
	s.log.Info("seal: secret values stored in plain text are now sealed", "objects", len(b.Put))
	return nil
}

// Load returns inner's snapshot with secret values opened. A value that
// does not open (another key, damage) loads as empty, with a log line.
func (s *Sealed) Load(ctx context.Context) (*store.Snapshot, error) {
	snap, err := s.inner.Load(ctx)
	if err != nil {
		return nil, err
	}
	for i, o := range snap.Objects {
		var params map[string]string
		for name, v := range o.Params {
			if !strings.HasPrefix(v, Prefix) {
				continue
			}
			if params == nil {
				params = maps.Clone(o.Params)
			}
			plain, err := s.open(o.Path, name, v)
			if err != nil {
				s.log.Error("seal: a sealed value does not open; it loads empty", "path", o.Path+name, "err", err)
			}
			params[name] = plain
		}
		if params != nil {
			snap.Objects[i].Params = params
		}
	}
	return snap, nil
}

// Apply seals the secret values of b's objects and applies it to inner;
// b itself is not changed.
func (s *Sealed) Apply(ctx context.Context, b *store.Batch) error {
	c := *b
	c.Put = make([]store.Object, len(b.Put))
	for i, o := range b.Put {
		c.Put[i] = s.sealObject(o)
	}
	return s.inner.Apply(ctx, &c)
}

// sealObject returns o with its secret values sealed.
func (s *Sealed) sealObject(o store.Object) store.Object {
	var params map[string]string
	for name, v := range o.Params {
		if v == "" || strings.HasPrefix(v, Prefix) && s.opens(o.Path, name, v) || !s.secret(o.Path, name) {
			continue
		}
		if params == nil {
			params = maps.Clone(o.Params)
		}
		params[name] = s.seal(o.Path, name, v)
	}
	if params != nil {
		o.Params = params
	}
	return o
}

// ad binds a sealed value to its place, so that it does not open
// elsewhere.
func ad(path, param string) []byte { return []byte(path + "\x00" + param) }

func (s *Sealed) seal(path, param, v string) string {
	nonce := make([]byte, s.aead.NonceSize(), s.aead.NonceSize()+len(v)+s.aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	return Prefix + base64.RawStdEncoding.EncodeToString(s.aead.Seal(nonce, nonce, []byte(v), ad(path, param)))
}

var errShort = errors.New("sealed value too short")

func (s *Sealed) open(path, param, v string) (string, error) {
	raw, err := base64.RawStdEncoding.DecodeString(v[len(Prefix):])
	if err != nil {
		return "", err
	}
	n := s.aead.NonceSize()
	if len(raw) < n+s.aead.Overhead() {
		return "", errShort
	}
	plain, err := s.aead.Open(nil, raw[:n], raw[n:], ad(path, param))
	if err != nil {
		return "", err
	}
	return string(plain), nil
}

// opens reports whether v is a value sealed with this key for this place
// (a plain value that merely starts with Prefix is sealed again).
func (s *Sealed) opens(path, param, v string) bool {
	_, err := s.open(path, param, v)
	return err == nil
}

// LoadKey reads the key file at path, creating it with a new random key
// (mode 0600, never replacing an existing file) when it does not exist.
// An existing key file readable by others is restricted to 0600.
func LoadKey(path string) ([]byte, error) {
	key, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return createKey(path)
	}
	if err != nil {
		return nil, fmt.Errorf("seal: key: %w", err)
	}
	if len(key) != KeySize {
		return nil, fmt.Errorf("seal: key file %s holds %d bytes, want %d", path, len(key), KeySize)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		return nil, fmt.Errorf("seal: key: %w", err)
	}
	return key, nil
}

func createKey(path string) ([]byte, error) {
	key := make([]byte, KeySize)
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("seal: key: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) { // made meanwhile by another process
		return LoadKey(path)
	}
	if err != nil {
		return nil, fmt.Errorf("seal: key: %w", err)
	}
	if _, err := f.Write(key); err != nil {
		f.Close()
		os.Remove(path)
		return nil, fmt.Errorf("seal: key: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return nil, fmt.Errorf("seal: key: %w", err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("seal: key: %w", err)
	}
	return key, nil
}
