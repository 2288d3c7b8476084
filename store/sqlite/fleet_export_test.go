package sqlite

import "context"

// ExplainForTest returns the detail lines of q's query plan.
func (s *DB) ExplainForTest(ctx context.Context, q string) []string {
	rows, err := s.db.QueryContext(ctx, "EXPLAIN QUERY PLAN "+q)
	if err != nil {
		return []string{err.Error()}
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id, parent, notused int
		var detail string
		if err := rows.Scan(&id, &parent, &notused, &detail); err != nil {
			return append(out, err.Error())
		}
		out = append(out, detail)
	}
	return out
}
