package store

import (
	"context"
	"encoding/json"
	"strings"
	"time"
)

// AgentRecord is one Agent as a fleet index keeps it: what a search may
// look at.
type AgentRecord struct {
	ID       string
	Online   bool
	LastSeen time.Time
	Tags     []string
	// Params are stored parameter values by name, such as the
	// Device.DeviceInfo values read at first contact (Manufacturer,
	// ModelName, SoftwareVersion, ProvisioningCode, SerialNumber…).
	Params map[string]string
}

// AgentFilter is one set of conditions on Agents; the zero value matches
// every Agent. Every field that is set must hold.
type AgentFilter struct {
	// Match is a substring of the Endpoint ID.
	Match string
	// Model and Version are Params["ModelName"] and
	// Params["SoftwareVersion"].
	Model, Version string
	// Online, if not nil, is the wanted online state.
	Online *bool
	// Tag is a tag the Agent carries.
	Tag string
	// IDs, when Only is set, are the only Agents that may match (a static
	// group; empty matches none).
	IDs  []string
	Only bool
	// SeenBefore and SeenAfter bound LastSeen (exclusive) when not zero.
	SeenBefore, SeenAfter time.Time
	// Param, if not empty, names a stored parameter whose value must be
	// Value.
	Param, Value string
}

// Agent index sort keys.
const (
	SortID       = "id"
	SortModel    = "model"
	SortVersion  = "version"
	SortLastSeen = "last_seen"
	SortOnline   = "online"
)

// AgentQuery is a search of a fleet index: the Agents every filter
// matches, sorted, one page of them.
type AgentQuery struct {
	Filters []AgentFilter
	// Sort is one of the Sort constants; "" means SortID. Ties are
	// broken by ID.
	Sort string
	Desc bool
	// Limit bounds the page; 0 means no bound. Offset skips as many.
	Limit, Offset int
}

// AgentIndex is implemented by stores that keep a searchable index of a
// Controller's Agents in their own tables, so that a search is a query
// on indexes rather than a walk over every Agent. Its methods are safe
// for concurrent use.
type AgentIndex interface {
	// PutAgents creates or replaces the index rows of Agents.
	PutAgents(ctx context.Context, recs []AgentRecord) error
	// SetAgentOnline records an Agent's online state and last contact.
	SetAgentOnline(ctx context.Context, id string, online bool, lastSeen time.Time) error
	// DeleteAgents removes Agents from the index.
	DeleteAgents(ctx context.Context, ids []string) error
	// AllOffline marks every indexed Agent offline (at a start) and
	// returns how many Agents are indexed.
	AllOffline(ctx context.Context) (int, error)
	// SearchAgents returns the IDs of one page of the Agents q picks, and
	// how many it picks in all.
	SearchAgents(ctx context.Context, q AgentQuery) (ids []string, total int, err error)
}

// AgentSQL is the SQL of a fleet index shared by the SQL drivers: the
// tables are fleet_agents (id, online, last_seen in Unix microseconds,
// model, version), fleet_tags (tag, id) and fleet_params (name, value,
// id).
type AgentSQL struct {
	// Placeholder returns the n-th (1-based) bind parameter.
	Placeholder func(n int) string
	// Contains returns an expression true when column contains the
	// string bound at placeholder p.
	Contains func(column, p string) string
	// InList returns an expression true when column is one of the
	// strings bound, as one argument, at placeholder p; ListArg makes
	// that argument.
	InList  func(column, p string) string
	ListArg func(ids []string) any
	// InQuery returns an expression true when column is one of the
	// values query selects; nil means "column IN (query)".
	InQuery func(column, query string) string
	// NoLimit is the LIMIT clause that bounds nothing ("LIMIT -1" in
	// SQLite, "LIMIT ALL" in PostgreSQL).
	NoLimit string
}

// Where returns the WHERE clause (without the keyword, "1=1" when
// empty) and its arguments for q's filters.
func (d AgentSQL) Where(q AgentQuery) (string, []any) {
	var conds []string
	var args []any
	bind := func(v any) string {
		args = append(args, v)
		return d.Placeholder(len(args))
	}
	for _, f := range q.Filters {
		if f.Match != "" {
			conds = append(conds, d.Contains("id", bind(f.Match)))
		}
		if f.Model != "" {
			conds = append(conds, "model = "+bind(f.Model))
		}
		if f.Version != "" {
			conds = append(conds, "version = "+bind(f.Version))
		}
		if f.Online != nil {
			conds = append(conds, "online = "+bind(boolInt(*f.Online)))
		}
		if f.Tag != "" {
			conds = append(conds, d.inQuery("id", "SELECT id FROM fleet_tags WHERE tag = "+bind(f.Tag)))
		}
		if f.Only {
			conds = append(conds, d.InList("id", bind(d.ListArg(f.IDs))))
		}
		if !f.SeenBefore.IsZero() {
			conds = append(conds, "last_seen < "+bind(f.SeenBefore.UnixMicro()))
		}
		if !f.SeenAfter.IsZero() {
			conds = append(conds, "last_seen > "+bind(f.SeenAfter.UnixMicro()))
		}
		if f.Param != "" {
			conds = append(conds, d.inQuery("id", "SELECT id FROM fleet_params WHERE name = "+bind(f.Param)+" AND value = "+bind(f.Value)))
		}
	}
	if len(conds) == 0 {
		return "1=1", args
	}
	return strings.Join(conds, " AND "), args
}

func (d AgentSQL) inQuery(col, query string) string {
	if d.InQuery != nil {
		return d.InQuery(col, query)
	}
	return col + " IN (" + query + ")"
}

// OrderBy returns the ORDER BY list of q.
func (q AgentQuery) OrderBy() string { return q.orderBy("") }

// orderBy returns the ORDER BY list with each term behind prefix ("+"
// keeps SQLite from ordering by walking an index).
func (q AgentQuery) orderBy(prefix string) string {
	dir := " ASC"
	if q.Desc {
		dir = " DESC"
	}
	switch q.Sort {
	case SortModel, SortVersion, SortLastSeen, SortOnline:
		return prefix + q.Sort + dir + ", " + prefix + "id" + dir
	}
	return prefix + "id" + dir
}

// Search returns the two statements of a search, the count and the page,
// with their arguments.
func (d AgentSQL) Search(q AgentQuery) (count string, countArgs []any, page string, pageArgs []any) {
	count, countArgs = d.Count(q)
	page, pageArgs = d.Page(q, "")
	return count, countArgs, page, pageArgs
}

// Count returns the statement that counts the Agents q picks.
func (d AgentSQL) Count(q AgentQuery) (string, []any) {
	where, args := d.Where(q)
	return "SELECT count(*) FROM fleet_agents WHERE " + where, args
}

// Page returns the statement of q's page, its ORDER BY terms behind
// orderPrefix.
func (d AgentSQL) Page(q AgentQuery, orderPrefix string) (string, []any) {
	where, args := d.Where(q)
	page := "SELECT id FROM fleet_agents WHERE " + where + " ORDER BY " + q.orderBy(orderPrefix)
	if q.Limit > 0 {
		args = append(args, q.Limit)
		page += " LIMIT " + d.Placeholder(len(args))
	} else {
		page += " " + d.NoLimit
	}
	if q.Offset > 0 {
		args = append(args, q.Offset)
		page += " OFFSET " + d.Placeholder(len(args))
	}
	return page, args
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// Row returns the columns of r's fleet_agents row: online (0 or 1),
// last_seen (Unix microseconds, 0 when never), model and version.
func (r *AgentRecord) Row() (online int, lastSeen int64, model, version string) {
	if !r.LastSeen.IsZero() {
		lastSeen = r.LastSeen.UnixMicro()
	}
	return boolInt(r.Online), lastSeen, r.Params["ModelName"], r.Params["SoftwareVersion"]
}

// JSONList encodes ids as a JSON array, for SQLite's json_each.
func JSONList(ids []string) any {
	if ids == nil {
		ids = []string{}
	}
	b, _ := json.Marshal(ids) // a list of strings always encodes
	return string(b)
}
