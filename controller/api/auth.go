package api

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
)

// Role is what a token may do.
type Role string

// Roles, from least to most.
const (
	Viewer   Role = "viewer"   // read agents, events, metrics
	Operator Role = "operator" // and send requests to agents
	Admin    Role = "admin"    // and delete agents
)

func (r Role) allows(need Role) bool {
	rank := map[Role]int{Viewer: 1, Operator: 2, Admin: 3}
	return rank[r] >= rank[need] && rank[need] > 0
}

// Tokens maps bearer tokens to roles. It is safe for concurrent use.
type Tokens struct {
	mu     sync.RWMutex
	tokens map[string]Role
}

// NewTokens returns a token set.
func NewTokens(m map[string]Role) *Tokens { return &Tokens{tokens: m} }

// role returns the role of a token, comparing in constant time.
func (t *Tokens) role(token string) (Role, bool) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	for k, r := range t.tokens {
		if subtle.ConstantTimeCompare([]byte(k), []byte(token)) == 1 {
			return r, true
		}
	}
	return "", false
}

// TokenFile is the name of the token file in the data directory.
const TokenFile = "tokens.json"

// AdminTokenFile holds the first admin token, alone, for the CLI.
const AdminTokenFile = "admin.token"

// LoadTokens reads the data directory's tokens, creating an admin token
// on first start (files of mode 0600). created tells whether it did.
func LoadTokens(dir string) (t *Tokens, adminPath string, created bool, err error) {
	path := filepath.Join(dir, TokenFile)
	adminPath = filepath.Join(dir, AdminTokenFile)
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		var raw [24]byte
		if _, err := rand.Read(raw[:]); err != nil {
			return nil, "", false, err
		}
		tok := hex.EncodeToString(raw[:])
		m := map[string]Role{tok: Admin}
		data, _ := json.MarshalIndent(m, "", "  ")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			return nil, "", false, err
		}
		if err := os.WriteFile(adminPath, []byte(tok+"\n"), 0o600); err != nil {
			return nil, "", false, err
		}
		return NewTokens(m), adminPath, true, nil
	}
	if err != nil {
		return nil, "", false, err
	}
	var m map[string]Role
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, "", false, fmt.Errorf("%s: %w", path, err)
	}
	for tok, r := range m {
		if !r.allows(Viewer) || len(tok) < 16 {
			return nil, "", false, fmt.Errorf("%s: token %q… has role %q or is too short", path, tok[:min(4, len(tok))], r)
		}
	}
	return NewTokens(m), adminPath, false, nil
}
