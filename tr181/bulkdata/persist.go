package bulkdata

import (
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
)

// retainedFile holds the failed reports of PersistAcrossReboot profiles.
const retainedFile = "bulkdata-retained.json"

// loadRetained reads the failed reports kept by an earlier run; the
// profiles they belong to are checked at the first load of Run
// (dropRetained).
func (s *Service) loadRetained() {
	if s.opt.Dir == "" {
		return
	}
	b, err := os.ReadFile(filepath.Join(s.opt.Dir, retainedFile))
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			s.log.Warn("bulk data: retained reports not read", "err", err)
		}
		return
	}
	var m map[string]*retained
	if err := json.Unmarshal(b, &m); err != nil {
		s.log.Warn("bulk data: retained reports not read", "err", err)
		return
	}
	for path, r := range m {
		if r != nil && r.Persist {
			s.retained[path] = r
		}
	}
}

// saveRetained writes the failed reports of PersistAcrossReboot profiles
// [TR-181 HTTP.PersistAcrossReboot]; s.mu is held.
func (s *Service) saveRetained(ctx context.Context) {
	if s.opt.Dir == "" {
		return
	}
	keep := map[string]*retained{}
	for path, r := range s.retained {
		if r.Persist {
			keep[path] = r
		}
	}
	path := filepath.Join(s.opt.Dir, retainedFile)
	if len(keep) == 0 {
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			s.log.WarnContext(ctx, "bulk data: retained reports not removed", "err", err)
		}
		return
	}
	b, _ := json.Marshal(keep) // plain data always marshals
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		s.log.WarnContext(ctx, "bulk data: retained reports not saved", "err", err)
		return
	}
	if err := os.Rename(tmp, path); err != nil {
		s.log.WarnContext(ctx, "bulk data: retained reports not saved", "err", err)
	}
}
