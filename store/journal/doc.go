// Package journal is a store (see package store) made for flash: the state
// lives in memory, every Apply appends one checksummed record to a journal
// file and syncs it before returning, and the journal is folded into a
// snapshot file when it has grown past the snapshot's size.
//
// On a device's flash this writes the change itself, a few hundred bytes
// and one fdatasync per acknowledged Set, where a B+tree rewrites whole
// pages (see docs/perf.md for the figures against SQLite and bbolt). It is
// pure Go with no dependency, so it builds for every CPU Go supports.
//
// Crash safety: a record is acknowledged only once synced; a torn record at
// the journal's end (the process died while writing it) fails its checksum
// and is cut off at the next Open. A snapshot is written to a temporary
// file, synced and renamed into place; the journal names the snapshot
// generation it follows, so a journal already folded into a newer snapshot
// is never replayed twice. Only one process may open a directory at a time
// (an flock on a lock file).
package journal
