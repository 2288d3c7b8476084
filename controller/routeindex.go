package controller

import "slices"

// routeKey is one route's MTP name and address.
type routeKey struct{ mtp, addr string }

// routeIndex finds the Agents that have a route, so that the end of one
// connection costs the same with many Agents as with few: the Agents with
// routeKey{m, a} among their Routes or as their current route (MTP,
// Address). Most routes belong to one Agent. It is guarded by c.mu.
type routeIndex map[routeKey][]*Agent

// keysOf appends the keys a is indexed under to out.
func keysOf(a *Agent, out []routeKey) []routeKey {
	if a.MTP != "" {
		out = append(out, routeKey{a.MTP, a.Address})
	}
	for _, r := range a.Routes {
		if k := (routeKey{r.MTP, r.Address}); !slices.Contains(out, k) {
			out = append(out, k)
		}
	}
	return out
}

// add indexes a under its current routes.
func (ix routeIndex) add(a *Agent) {
	var buf [maxRoutes + 1]routeKey
	for _, k := range keysOf(a, buf[:0]) {
		if !slices.Contains(ix[k], a) {
			ix[k] = append(ix[k], a)
		}
	}
}

// remove drops a from the index under its current routes; call it before
// a's routes change, and add after.
func (ix routeIndex) remove(a *Agent) {
	var buf [maxRoutes + 1]routeKey
	for _, k := range keysOf(a, buf[:0]) {
		s := slices.DeleteFunc(ix[k], func(x *Agent) bool { return x == a })
		if len(s) == 0 {
			delete(ix, k)
		} else {
			ix[k] = s
		}
	}
}

// on appends the Agents indexed under the route (name, addr) to out, a
// copy the caller may go through while it changes their routes.
func (ix routeIndex) on(out []*Agent, name, addr string) []*Agent {
	return append(out, ix[routeKey{name, addr}]...)
}
