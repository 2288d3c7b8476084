package sqlite

// prefixSuccessor returns the smallest string greater than every string
// that starts with p, in SQLite's BINARY collation (byte order), and false
// when there is none (p is empty or all 0xff bytes).
func prefixSuccessor(p string) (string, bool) {
	b := []byte(p)
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] < 0xff {
			b[i]++
			return string(b[:i+1]), true
		}
	}
	return "", false
}

// deletePrefix removes the objects whose path starts with p as one range
// of the primary key ([p, successor of p)), so SQLite reads only those
// entries instead of scanning the table.
func (t *txStmts) deletePrefix(p string) error {
	if end, ok := prefixSuccessor(p); ok {
		return t.exec(stDeleteRange, p, end)
	}
	return t.exec(stDeleteFrom, p)
}

const (
	deleteRangeSQL = "DELETE FROM objects WHERE path >= ? AND path < ?"
	deleteFromSQL  = "DELETE FROM objects WHERE path >= ?"
)
