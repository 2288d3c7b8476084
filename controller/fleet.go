package controller

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/uspkit/uspkit/endpoint"
	"github.com/uspkit/uspkit/store"
)

// Errors of the fleet methods.
var (
	// ErrFleetSpec is wrapped by the reasons a search, group or job is
	// refused.
	ErrFleetSpec = errors.New("controller: bad fleet request")
	// ErrUnknownGroup is returned for a group ID never created.
	ErrUnknownGroup = errors.New("controller: unknown group")
)

// IndexedParams returns the Device.DeviceInfo parameters, read at first
// contact, that the fleet index keeps and a search may name in
// AgentFilter.Param (with or without the "Device.DeviceInfo." prefix).
func IndexedParams() []string {
	return []string{"Manufacturer", "ManufacturerOUI", "ModelName", "ProductClass", "SerialNumber",
		"SoftwareVersion", "HardwareVersion", "ProvisioningCode"}
}

// Limits of the fleet.
const (
	maxTags      = 32
	maxTagLen    = 64
	maxGroupRefs = 4 // groups naming groups, nested
)

// AgentFilter picks Agents; every field set must hold. It is the filter
// of GET /api/v1/agents and of a dynamic group.
type AgentFilter struct {
	// Q is a substring of the Endpoint ID.
	Q string `json:"q,omitempty"`
	// Model and Version are the ModelName and SoftwareVersion of
	// Device.DeviceInfo.
	Model   string `json:"model,omitempty"`
	Version string `json:"version,omitempty"`
	Online  *bool  `json:"online,omitempty"`
	Tag     string `json:"tag,omitempty"`
	// Group is the ID of a group whose members only match.
	Group string `json:"group,omitempty"`
	// SeenBefore and SeenAfter bound the last contact.
	SeenBefore time.Time `json:"seen_before,omitzero"`
	SeenAfter  time.Time `json:"seen_after,omitzero"`
	// Param names one of IndexedParams, whose value must be Value.
	Param string `json:"param,omitempty"`
	Value string `json:"value,omitempty"`
}

// AgentSearch is a search of the registry: a filter, an order and a page.
type AgentSearch struct {
	AgentFilter
	// Sort is id (the default), model, version, last_seen or online;
	// Order is asc (the default) or desc.
	Sort  string
	Order string
	// Limit bounds the page (0 means 100, at most 10000); Offset skips
	// as many.
	Limit, Offset int
}

// Group is a named set of Agents: a static list of Endpoint IDs or, when
// Filter is set, the Agents a filter picks at each use (dynamic).
type Group struct {
	ID      string       `json:"id"`
	Name    string       `json:"name"`
	Static  []string     `json:"static,omitempty"`
	Filter  *AgentFilter `json:"filter,omitempty"`
	Created time.Time    `json:"created,omitzero"`
}

// fleet holds the groups, the jobs and the index queue. Lock order:
// fleet.persist, fleet.mu, c.mu; idx.flush, c.mu.
type fleet struct {
	mu     sync.Mutex
	groups map[string]*Group
	jobs   map[string]*jobRun
	wake   chan struct{}
	// persist orders the writes of jobs.
	persist sync.Mutex
	// idx holds the Agents whose index rows are to be written.
	idx indexQueue
}

func (f *fleet) init() {
	if f.groups == nil {
		f.groups, f.jobs, f.wake = map[string]*Group{}, map[string]*jobRun{}, make(chan struct{}, 1)
	}
}

func (f *fleet) poke() {
	select {
	case f.wake <- struct{}{}:
	default:
	}
}

// index returns the store's fleet index, or nil when it has none (the
// registry in memory is searched instead).
func (c *Controller) index() store.AgentIndex {
	idx, _ := c.opt.Store.(store.AgentIndex)
	return idx
}

// indexRecord is what the fleet index keeps of a.
func indexRecord(a *Agent) store.AgentRecord {
	r := store.AgentRecord{ID: a.ID, Online: a.Online, LastSeen: a.LastSeen, Tags: a.Tags, Params: map[string]string{}}
	for _, k := range IndexedParams() {
		if v, ok := a.Info[k]; ok {
			r.Params[k] = v
		}
	}
	return r
}

// syncIndex marks every indexed Agent offline at a start and, when the
// index does not hold the registry's Agents (a store the index was added
// to, or one written by an older version), rebuilds it.
func (c *Controller) syncIndex(ctx context.Context) error {
	idx := c.index()
	if idx == nil {
		return nil
	}
	n, err := idx.AllOffline(ctx)
	if err != nil {
		return err
	}
	c.mu.Lock()
	recs := make([]store.AgentRecord, 0, len(c.agents))
	for _, a := range c.agents {
		recs = append(recs, indexRecord(a))
	}
	c.mu.Unlock()
	if n == len(recs) {
		return nil
	}
	ids, _, err := idx.SearchAgents(ctx, store.AgentQuery{})
	if err != nil {
		return err
	}
	known := map[string]bool{}
	for _, r := range recs {
		known[r.ID] = true
	}
	var gone []string
	for _, id := range ids {
		if !known[id] {
			gone = append(gone, id)
		}
	}
	if err := idx.DeleteAgents(ctx, gone); err != nil {
		return err
	}
	for chunk := range slices.Chunk(recs, 1000) {
		if err := idx.PutAgents(ctx, chunk); err != nil {
			return err
		}
	}
	c.log.InfoContext(ctx, "fleet index rebuilt", "agents", len(recs), "was", n)
	return nil
}

// SetTags replaces an Agent's tags. A tag is 1 to 64 printable
// characters without spaces or commas; an Agent has at most 32.
func (c *Controller) SetTags(ctx context.Context, id string, tags []string) (Agent, error) {
	clean, err := cleanTags(tags)
	if err != nil {
		return Agent{}, err
	}
	c.mu.Lock()
	a := c.agents[id]
	if a == nil {
		c.mu.Unlock()
		return Agent{}, fmt.Errorf("%w: %s", ErrUnknownAgent, id)
	}
	a.Tags = clean
	snapshot := *a
	c.mu.Unlock()
	c.persistAgent(ctx, &snapshot)
	c.flushIndex(ctx) // a search right after sees the tags
	return snapshot, nil
}

func cleanTags(tags []string) ([]string, error) {
	out := []string{}
	for _, t := range tags {
		if t == "" || len(t) > maxTagLen || strings.ContainsFunc(t, func(r rune) bool { return r <= ' ' || r == ',' || r == 0x7f }) {
			return nil, fmt.Errorf("%w: tag %q: want 1 to %d printable characters, no spaces or commas", ErrFleetSpec, t, maxTagLen)
		}
		if !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	if len(out) > maxTags {
		return nil, fmt.Errorf("%w: %d tags, at most %d", ErrFleetSpec, len(out), maxTags)
	}
	slices.Sort(out)
	return out, nil
}

// paramName returns the index name of a searched parameter.
func paramName(p string) (string, error) {
	name := strings.TrimPrefix(p, "Device.DeviceInfo.")
	if names := IndexedParams(); !slices.Contains(names, name) {
		return "", fmt.Errorf("%w: param %q: want one of %s (of Device.DeviceInfo.)", ErrFleetSpec, p, strings.Join(names, ", "))
	}
	return name, nil
}

// resolve turns a filter into the index's filters, following its group
// (and the group's filter's group, to maxGroupRefs).
func (c *Controller) resolve(f AgentFilter, depth int) ([]store.AgentFilter, error) {
	sf := store.AgentFilter{Match: f.Q, Model: f.Model, Version: f.Version, Online: f.Online, Tag: f.Tag,
		SeenBefore: f.SeenBefore, SeenAfter: f.SeenAfter}
	if f.Param != "" {
		name, err := paramName(f.Param)
		if err != nil {
			return nil, err
		}
		sf.Param, sf.Value = name, f.Value
	} else if f.Value != "" {
		return nil, fmt.Errorf("%w: value without param", ErrFleetSpec)
	}
	out := []store.AgentFilter{sf}
	if f.Group == "" {
		return out, nil
	}
	if depth >= maxGroupRefs {
		return nil, fmt.Errorf("%w: groups nested over %d deep (or in a loop) at %s", ErrFleetSpec, maxGroupRefs, f.Group)
	}
	c.fleet.mu.Lock()
	c.fleet.init()
	g := c.fleet.groups[f.Group]
	var x Group
	if g != nil {
		x = *g
	}
	c.fleet.mu.Unlock()
	if g == nil {
		return nil, fmt.Errorf("%w: %s", ErrUnknownGroup, f.Group)
	}
	if x.Filter == nil {
		return append(out, store.AgentFilter{Only: true, IDs: x.Static}), nil
	}
	more, err := c.resolve(*x.Filter, depth+1)
	if err != nil {
		return nil, err
	}
	return append(out, more...), nil
}

// query builds the index query of s.
func (c *Controller) query(s AgentSearch) (store.AgentQuery, error) {
	filters, err := c.resolve(s.AgentFilter, 0)
	if err != nil {
		return store.AgentQuery{}, err
	}
	q := store.AgentQuery{Filters: filters, Sort: s.Sort, Limit: s.Limit, Offset: max(s.Offset, 0)}
	switch s.Sort {
	case "", store.SortID, store.SortModel, store.SortVersion, store.SortLastSeen, store.SortOnline:
	default:
		return q, fmt.Errorf("%w: sort %q: want id, model, version, last_seen or online", ErrFleetSpec, s.Sort)
	}
	switch s.Order {
	case "", "asc":
	case "desc":
		q.Desc = true
	default:
		return q, fmt.Errorf("%w: order %q: want asc or desc", ErrFleetSpec, s.Order)
	}
	if q.Limit <= 0 {
		q.Limit = 100
	}
	q.Limit = min(q.Limit, 10000)
	return q, nil
}

// SearchAgents returns one page of the Agents s picks, in its order, and
// how many it picks in all. With a store that keeps a fleet index
// (store.AgentIndex: SQLite, PostgreSQL) the search is a query on its
// indexes; otherwise the registry in memory is scanned.
func (c *Controller) SearchAgents(ctx context.Context, s AgentSearch) ([]Agent, int, error) {
	q, err := c.query(s)
	if err != nil {
		return nil, 0, err
	}
	ids, total, err := c.searchIDs(ctx, q)
	if err != nil {
		return nil, 0, err
	}
	out := make([]Agent, 0, len(ids))
	c.mu.Lock()
	for _, id := range ids {
		if a := c.agents[id]; a != nil {
			out = append(out, *a)
		}
	}
	c.mu.Unlock()
	return out, total, nil
}

func (c *Controller) searchIDs(ctx context.Context, q store.AgentQuery) ([]string, int, error) {
	if idx := c.index(); idx != nil {
		c.flushIndex(ctx) // what the registry knows now is found

		ids, total, err := idx.SearchAgents(ctx, q)
		if err != nil {
			return nil, 0, fmt.Errorf("controller: %w", err)
		}
		return ids, total, nil
	}
	return c.scanAgents(q)
}

// scanAgents is SearchAgents over the registry in memory.
func (c *Controller) scanAgents(q store.AgentQuery) ([]string, int, error) {
	c.mu.Lock()
	var hits []store.AgentRecord
	for _, a := range c.agents {
		r := indexRecord(a)
		if matchesAll(&r, q.Filters) {
			hits = append(hits, r)
		}
	}
	c.mu.Unlock()
	slices.SortFunc(hits, func(a, b store.AgentRecord) int {
		n := compareBy(q.Sort, &a, &b)
		if n == 0 {
			n = strings.Compare(a.ID, b.ID)
		}
		if q.Desc {
			n = -n
		}
		return n
	})
	lo := min(q.Offset, len(hits))
	hi := len(hits)
	if q.Limit > 0 {
		hi = min(hi, lo+q.Limit)
	}
	ids := make([]string, 0, hi-lo)
	for _, r := range hits[lo:hi] {
		ids = append(ids, r.ID)
	}
	return ids, len(hits), nil
}

func compareBy(key string, a, b *store.AgentRecord) int {
	switch key {
	case store.SortModel:
		return strings.Compare(a.Params["ModelName"], b.Params["ModelName"])
	case store.SortVersion:
		return strings.Compare(a.Params["SoftwareVersion"], b.Params["SoftwareVersion"])
	case store.SortLastSeen:
		return a.LastSeen.Compare(b.LastSeen)
	case store.SortOnline:
		switch {
		case a.Online == b.Online:
			return 0
		case a.Online:
			return 1
		}
		return -1
	}
	return 0
}

func matchesAll(r *store.AgentRecord, fs []store.AgentFilter) bool {
	for i := range fs {
		if !matches(r, &fs[i]) {
			return false
		}
	}
	return true
}

func matches(r *store.AgentRecord, f *store.AgentFilter) bool {
	switch {
	case f.Match != "" && !strings.Contains(r.ID, f.Match),
		f.Model != "" && r.Params["ModelName"] != f.Model,
		f.Version != "" && r.Params["SoftwareVersion"] != f.Version,
		f.Online != nil && r.Online != *f.Online,
		f.Tag != "" && !slices.Contains(r.Tags, f.Tag),
		f.Only && !slices.Contains(f.IDs, r.ID),
		!f.SeenBefore.IsZero() && !r.LastSeen.Before(f.SeenBefore),
		!f.SeenAfter.IsZero() && !r.LastSeen.After(f.SeenAfter):
		return false
	}
	if f.Param != "" {
		v, ok := r.Params[f.Param]
		return ok && v == f.Value
	}
	return true
}

// members returns every Agent ID f picks, in ID order.
func (c *Controller) members(ctx context.Context, f AgentFilter) ([]string, error) {
	filters, err := c.resolve(f, 0)
	if err != nil {
		return nil, err
	}
	ids, _, err := c.searchIDs(ctx, store.AgentQuery{Filters: filters})
	return ids, err
}

func newFleetID() string {
	var b [8]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// validGroup checks a group and fills in its ID.
func (c *Controller) validGroup(g *Group) error {
	if g.ID == "" {
		g.ID = newFleetID()
	}
	if len(g.ID) > 64 || strings.ContainsFunc(g.ID, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.')
	}) {
		return fmt.Errorf("%w: group id %q: want up to 64 letters, digits, '-', '_' or '.'", ErrFleetSpec, g.ID)
	}
	if g.Name == "" {
		g.Name = g.ID
	}
	if g.Filter != nil && len(g.Static) > 0 {
		return fmt.Errorf("%w: a group is static or has a filter, not both", ErrFleetSpec)
	}
	if g.Filter != nil {
		if _, err := c.resolve(*g.Filter, 1); err != nil {
			return err
		}
		if g.Filter.Group == g.ID {
			return fmt.Errorf("%w: group %s names itself", ErrFleetSpec, g.ID)
		}
		return nil
	}
	seen := map[string]bool{}
	static := []string{}
	for _, id := range g.Static {
		if err := endpoint.Validate(id); err != nil {
			return fmt.Errorf("%w: static member %q: %w", ErrFleetSpec, id, err)
		}
		if !seen[id] {
			seen[id] = true
			static = append(static, id)
		}
	}
	g.Static = static
	return nil
}

func groupItem(g *Group) store.Item {
	data, _ := json.Marshal(g)
	return store.Item{Kind: "group", ID: g.ID, Data: data}
}

// PutGroup creates a group (a new ID when g.ID is empty) or replaces one.
func (c *Controller) PutGroup(ctx context.Context, g Group) (Group, error) {
	if err := c.validGroup(&g); err != nil {
		return Group{}, err
	}
	c.fleet.persist.Lock()
	defer c.fleet.persist.Unlock()
	c.fleet.mu.Lock()
	c.fleet.init()
	if old := c.fleet.groups[g.ID]; old != nil {
		g.Created = old.Created
	} else {
		g.Created = time.Now().UTC()
	}
	c.fleet.mu.Unlock()
	if err := c.opt.Store.Apply(ctx, &store.Batch{PutItems: []store.Item{groupItem(&g)}}); err != nil {
		return Group{}, fmt.Errorf("controller: storing group: %w", err)
	}
	c.fleet.mu.Lock()
	x := g
	c.fleet.groups[g.ID] = &x
	c.fleet.mu.Unlock()
	return g, nil
}

// Groups returns every group, by ID.
func (c *Controller) Groups() []Group {
	c.fleet.mu.Lock()
	defer c.fleet.mu.Unlock()
	c.fleet.init()
	out := make([]Group, 0, len(c.fleet.groups))
	for _, id := range slices.Sorted(maps.Keys(c.fleet.groups)) {
		out = append(out, *c.fleet.groups[id])
	}
	return out
}

// Group returns one group.
func (c *Controller) Group(id string) (Group, error) {
	c.fleet.mu.Lock()
	defer c.fleet.mu.Unlock()
	c.fleet.init()
	g := c.fleet.groups[id]
	if g == nil {
		return Group{}, fmt.Errorf("%w: %s", ErrUnknownGroup, id)
	}
	return *g, nil
}

// DeleteGroup forgets a group; jobs started on it keep their Agents.
func (c *Controller) DeleteGroup(ctx context.Context, id string) error {
	c.fleet.persist.Lock()
	defer c.fleet.persist.Unlock()
	c.fleet.mu.Lock()
	c.fleet.init()
	_, ok := c.fleet.groups[id]
	delete(c.fleet.groups, id)
	c.fleet.mu.Unlock()
	if !ok {
		return fmt.Errorf("%w: %s", ErrUnknownGroup, id)
	}
	if err := c.opt.Store.Apply(ctx, &store.Batch{DeleteItems: []store.Item{{Kind: "group", ID: id}}}); err != nil {
		return fmt.Errorf("controller: deleting group: %w", err)
	}
	return nil
}

// loadFleet takes a stored group, job or job target.
func (c *Controller) loadFleet(it store.Item, targets map[string][]*JobResult) {
	c.fleet.init()
	switch it.Kind {
	case "group":
		var g Group
		if json.Unmarshal(it.Data, &g) == nil && g.ID != "" {
			c.fleet.groups[g.ID] = &g
		}
	default:
		c.loadJob(it, targets)
	}
}
