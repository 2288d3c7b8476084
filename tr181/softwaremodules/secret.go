package softwaremodules

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// sealedPrefix marks a password kept encrypted in state.json.
const sealedPrefix = "aes-gcm:"

// loadKey reads the 32-byte key of dir/secret.key (0600), making it on
// first use. Passwords of Deployment Units (kept for Update() without a
// URL) are stored encrypted with it.
func loadKey(dir string) ([]byte, error) {
	path := filepath.Join(dir, "secret.key")
	key, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		key = make([]byte, 32)
		if _, err := rand.Read(key); err != nil {
			return nil, err
		}
		if err := os.WriteFile(path, key, 0o600); err != nil {
			return nil, err
		}
		return key, nil
	}
	if err != nil {
		return nil, err
	}
	if len(key) != 32 {
		return nil, fmt.Errorf("%s: %d bytes, want 32", path, len(key))
	}
	return key, nil
}

func (m *Manager) seal(plain string) string {
	if plain == "" {
		return ""
	}
	block, _ := aes.NewCipher(m.key)
	gcm, _ := cipher.NewGCM(block)
	nonce := make([]byte, gcm.NonceSize())
	_, _ = rand.Read(nonce)
	return sealedPrefix + base64.StdEncoding.EncodeToString(gcm.Seal(nonce, nonce, []byte(plain), nil))
}

func (m *Manager) unseal(s string) (string, error) {
	enc, ok := strings.CutPrefix(s, sealedPrefix)
	if !ok {
		return s, nil // written before passwords were sealed
	}
	b, err := base64.StdEncoding.DecodeString(enc)
	block, _ := aes.NewCipher(m.key)
	gcm, _ := cipher.NewGCM(block)
	if err != nil || len(b) < gcm.NonceSize() {
		return "", errors.New("softwaremodules: a sealed password is malformed")
	}
	plain, err := gcm.Open(nil, b[:gcm.NonceSize()], b[gcm.NonceSize():], nil)
	if err != nil {
		return "", fmt.Errorf("softwaremodules: a sealed password does not open with secret.key: %w", err)
	}
	return string(plain), nil
}
