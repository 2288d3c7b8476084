package postgres

// PrefixEnd exposes prefixEnd to the tests.
func PrefixEnd(p string) (string, bool) { return prefixEnd(p) }
