package sqlite

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// fileMode is the mode of the database and its companion files.
const fileMode fs.FileMode = 0o600

// createPrivate creates the database file with mode 0600 before SQLite
// opens it (SQLite would create it 0644 less the umask), and restricts an
// existing one.
func createPrivate(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, fileMode)
	if err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return restrict(path)
}

// restrictFiles restricts the database, -wal, -shm and -journal files
// that exist.
func restrictFiles(path string) error {
	for _, p := range []string{path, path + "-wal", path + "-shm", path + "-journal"} {
		if err := restrict(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	return nil
}

// restrict sets path's mode to 0600 unless it is already.
func restrict(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	if fi.Mode().Perm() == fileMode {
		return nil
	}
	return os.Chmod(path, fileMode)
}

// Checkpoint copies the write-ahead log into the database file and
// truncates the log, so that no earlier version of a row lingers in the
// -wal file (deleted and overwritten content is zeroed in the database
// itself: secure_delete is on).
func (s *DB) Checkpoint(ctx context.Context) error {
	if _, err := s.db.ExecContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)"); err != nil {
		return fmt.Errorf("sqlite: checkpoint: %w", err)
	}
	return nil
}
