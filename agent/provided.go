package agent

import (
	"context"
	"strings"

	"github.com/uspkit/uspkit/datamodel"
	"github.com/uspkit/uspkit/pathname"
)

// Announce tells the Agent about changes to provided objects that
// happened outside the engine, so that subscriptions hear of them as they
// hear of changes to stored objects:
//
//   - datamodel.OpAdd: an instance appeared (a host joined, an interface
//     was created); Params hold at least its unique keys, which go into
//     the ObjectCreation notification.
//   - datamodel.OpDelete: an instance vanished; ObjectDeletion.
//   - datamodel.OpSet: parameters changed to the values in Params;
//     ValueChange, once per subscription however often the value is also
//     seen by polling.
//
// A Change's Object may be nil: it is looked up from Path. Changes to
// paths the data model does not have are ignored. Announce is safe for
// concurrent use and may be called before Run.
func (a *Agent) Announce(ctx context.Context, changes []datamodel.Change) {
	m := a.eng.Model()
	ok := changes[:0:0]
	for _, c := range changes {
		if c.Object == nil {
			pat, err := pathname.AppendPattern(nil, c.Path)
			if err != nil {
				a.log.DebugContext(ctx, "announced change to a malformed path", "path", c.Path, "err", err)
				continue
			}
			if c.Object = m.Object(string(pat)); c.Object == nil {
				a.log.DebugContext(ctx, "announced change to an unknown object", "path", c.Path)
				continue
			}
		}
		if c.Params == nil {
			c.Params = map[string]string{}
		}
		ok = append(ok, c)
	}
	if len(ok) > 0 {
		a.subs.onChange(ctx, ok)
	}
}

// Watching reports whether an enabled ObjectCreation or ObjectDeletion
// subscription may cover rows of table, a table path with instance
// numbers or "{i}" ("Device.Hosts.Host.",
// "Device.IP.Interface.{i}.IPv4Address."): a provider of a live table
// needs to look for rows that appear or vanish only then. When unsure
// (a reference it cannot read) it answers true. It is safe for
// concurrent use.
func (a *Agent) Watching(table string) bool {
	tp := table
	if p, err := pathname.AppendPattern(nil, table); err == nil {
		tp = string(p)
	}
	s := a.subs
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, x := range s.subs {
		if x.notifType != notifObjectCreation && x.notifType != notifObjectDeletion {
			continue
		}
		if len(x.refs) == 0 {
			return true
		}
		for _, ref := range x.refs {
			rp, err := pathname.AppendPattern(nil, ref)
			if err != nil {
				return true
			}
			// A partial path covers the tables below it; a table, one
			// of its rows or a table below them covers that table.
			r := strings.TrimSuffix(string(rp), "{i}.")
			if strings.HasPrefix(tp, r) || strings.HasPrefix(r, tp) {
				return true
			}
		}
	}
	return false
}
