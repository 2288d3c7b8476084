package seal_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/uspkit/uspkit/store"
	"github.com/uspkit/uspkit/store/seal"
	"github.com/uspkit/uspkit/store/sqlite"
)

const password = "correct-horse-battery-staple-4711"

func isPassword(_, param string) bool { return param == "Password" }

// dbBytes returns the database file and its -wal, concatenated.
func dbBytes(t *testing.T, path string) []byte {
	t.Helper()
	var all []byte
	for _, p := range []string{path, path + "-wal"} {
		b, err := os.ReadFile(p)
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		all = append(all, b...)
	}
	return all
}

func mqttClient(pass string) store.Object {
	return store.Object{Path: "Device.MQTT.Client.1.", Params: map[string]string{"Username": "agent", "Password": pass, "Enable": "true"}}
}

// TestSealedAtRest: a Secured value is never in the database file in
// plain text, loads back as it was, and other values stay readable.
func TestSealedAtRest(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "agent.db")
	db, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	key, err := seal.LoadKey(filepath.Join(dir, seal.KeyFile))
	if err != nil {
		t.Fatal(err)
	}
	s, err := seal.New(ctx, db, &seal.Options{Key: key, Secret: isPassword})
	if err != nil {
		t.Fatal(err)
	}
	in := mqttClient(password)
	if err := s.Apply(ctx, &store.Batch{Put: []store.Object{in}}); err != nil {
		t.Fatal(err)
	}
	if in.Params["Password"] != password {
		t.Error("Apply changed the caller's batch")
	}
	if b := dbBytes(t, path); bytes.Contains(b, []byte(password)) || !bytes.Contains(b, []byte("agent")) {
		t.Errorf("password in agent.db: %v; username there: %v", bytes.Contains(b, []byte(password)), bytes.Contains(b, []byte("agent")))
	}
	snap, err := s.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := snap.Objects[0].Params["Password"]; got != password {
		t.Errorf("loaded %q", got)
	}
	raw, _ := db.Load(ctx)
	if got := raw.Objects[0].Params["Password"]; !strings.HasPrefix(got, seal.Prefix) {
		t.Errorf("stored %q, want a sealed value", got)
	}
}

// TestSealMigrates: plain secret values written before sealing are sealed
// by New, and leave no plain copy in the database or its log.
func TestSealMigrates(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "agent.db")
	db, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Apply(ctx, &store.Batch{Put: []store.Object{mqttClient(password)}}); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if !bytes.Contains(dbBytes(t, path), []byte(password)) {
		t.Fatal("test set-up: the plain password is not in the file")
	}
	db, err = sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	key, _ := seal.LoadKey(filepath.Join(dir, seal.KeyFile))
	s, err := seal.New(ctx, db, &seal.Options{Key: key, Secret: isPassword})
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(dbBytes(t, path), []byte(password)) {
		t.Error("plain password still in agent.db after migration")
	}
	snap, _ := s.Load(ctx)
	if got := snap.Objects[0].Params["Password"]; got != password {
		t.Errorf("loaded %q after migration", got)
	}
}

// TestSealBoundToPlace: a sealed value copied to another object, or read
// with another key, loads empty instead of failing the load.
func TestSealBoundToPlace(t *testing.T) {
	ctx := context.Background()
	mem := store.NewMemory()
	key := bytes.Repeat([]byte{7}, seal.KeySize)
	s, err := seal.New(ctx, mem, &seal.Options{Key: key, Secret: isPassword})
	if err != nil {
		t.Fatal(err)
	}
	s.Apply(ctx, &store.Batch{Put: []store.Object{mqttClient(password)}})
	raw, _ := mem.Load(ctx)
	moved := store.Object{Path: "Device.MQTT.Client.2.", Params: map[string]string{"Password": raw.Objects[0].Params["Password"]}}
	mem.Apply(ctx, &store.Batch{Put: []store.Object{moved}})
	snap, err := s.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range snap.Objects {
		want := map[string]string{"Device.MQTT.Client.1.": password, "Device.MQTT.Client.2.": ""}[o.Path]
		if got := o.Params["Password"]; got != want {
			t.Errorf("%s Password %q, want %q", o.Path, got, want)
		}
	}
	other, _ := seal.New(ctx, mem, &seal.Options{Key: bytes.Repeat([]byte{8}, seal.KeySize), Secret: isPassword})
	if snap, err := other.Load(ctx); err != nil || snap.Objects[0].Params["Password"] != "" {
		t.Errorf("another key: %v %q", err, snap.Objects[0].Params["Password"])
	}
}

// TestLoadKey: the key file is created once, 0600, and reused; an
// existing world-readable one is restricted; a damaged one is an error.
func TestLoadKey(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, seal.KeyFile)
	k1, err := seal.LoadKey(path)
	if err != nil {
		t.Fatal(err)
	}
	k2, err := seal.LoadKey(path)
	if err != nil || !bytes.Equal(k1, k2) {
		t.Fatalf("second LoadKey: %v, same key %v", err, bytes.Equal(k1, k2))
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %o", fi.Mode().Perm())
	}
	os.Chmod(path, 0o644)
	if _, err := seal.LoadKey(path); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Errorf("existing key left at mode %o", fi.Mode().Perm())
	}
	os.WriteFile(path, []byte("short"), 0o600)
	if _, err := seal.LoadKey(path); err == nil {
		t.Error("a 5-byte key file loaded")
	}
}
