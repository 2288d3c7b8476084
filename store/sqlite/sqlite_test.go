package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/uspkit/uspkit/store/sqlite"
	"github.com/uspkit/uspkit/store/storetest"
)

func open(t *testing.T, path string) *sqlite.DB {
	t.Helper()
	db, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestSuite(t *testing.T) {
	storetest.Run(t,
		func(t *testing.T) storetest.Store { return open(t, filepath.Join(t.TempDir(), "test.db")) },
		func(t *testing.T, s storetest.Store) storetest.Store {
			db := s.(*sqlite.DB)
			path := db.Path()
			db.Close()
			return open(t, path)
		})
}
