package datamodel

// Go maps keep the room they grew to when their entries are deleted, and
// so does a copy made with maps.Clone: a burst of Adds followed by Deletes
// of thousands of rows would leave the stored objects and the unique-key
// indexes sized for the burst for the life of the process. A shrinker
// counts the deletions from one map and says when rebuilding it at its
// present size is worth it: after at least shrinkAfter deletions and
// three times as many as the entries left, so that the copying costs a
// constant per deletion.
const shrinkAfter = 256

type shrinker struct{ deleted int }

// deleted counts one deletion from a map now holding left entries and
// reports whether to rebuild it.
func (s *shrinker) deletedOne(left int) bool {
	s.deleted++
	if s.deleted < shrinkAfter || s.deleted < 3*left {
		return false
	}
	s.deleted = 0
	return true
}

// rebuilt returns a copy of m sized for its entries.
func rebuilt[K comparable, V any](m map[K]V) map[K]V {
	out := make(map[K]V, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
