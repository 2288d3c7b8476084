package controller

import (
	"fmt"
	"slices"
	"time"

	"github.com/uspkit/uspkit/mtp"
)

// Route is one way to reach an Agent: an MTP of the Controller, by name,
// and the Agent's address on it (its topic, destination, WebSocket
// connection or socket peer).
type Route struct {
	MTP     string    `json:"mtp"`
	Address string    `json:"address"`
	Seen    time.Time `json:"seen"`
}

// maxRoutes bounds the routes kept per Agent: one per MTP it was heard
// on, the oldest dropped first.
const maxRoutes = 8

// nameMTPs gives every MTP without a Name its Protocol as name and
// checks that names are unique; it returns a copy of ms and the
// transports by name.
func nameMTPs(ms []MTP) ([]MTP, map[string]mtp.Transport, error) {
	out := slices.Clone(ms)
	byName := make(map[string]mtp.Transport, len(ms))
	for i := range out {
		if out[i].Name == "" {
			out[i].Name = out[i].Protocol
		}
		if _, dup := byName[out[i].Name]; dup {
			return nil, nil, fmt.Errorf("controller: two MTPs are named %q", out[i].Name)
		}
		byName[out[i].Name] = out[i].Transport
	}
	return out, byName, nil
}

// heardLocked records that Agent a was heard over MTP m at addr: that
// becomes its current route (Agent.MTP, Protocol, Address) and the
// newest of its routes. c.mu is held.
//
// a.Routes is never written in place: copies of an Agent taken under c.mu
// (to persist or return it) share the slice and are read without the lock,
// so every change makes a new one.
func (c *Controller) heardLocked(a *Agent, m *MTP, addr string, now time.Time) {
	if a.MTP == m.Name && a.Address == addr && len(a.Routes) > 0 && a.Routes[0].MTP == m.Name && a.Routes[0].Address == addr {
		// Heard again on its current route: only the time changes.
		routes := slices.Clone(a.Routes)
		routes[0].Seen = now
		a.Protocol, a.Routes = m.Protocol, routes
		return
	}
	c.byRoute.remove(a)
	defer c.byRoute.add(a)
	a.MTP, a.Protocol, a.Address = m.Name, m.Protocol, addr
	routes := make([]Route, 1, len(a.Routes)+1)
	routes[0] = Route{MTP: m.Name, Address: addr, Seen: now}
	for _, r := range a.Routes {
		if r.MTP != m.Name && len(routes) < maxRoutes {
			routes = append(routes, r)
		}
	}
	a.Routes = routes
}

// routeDownLocked handles the end of the connection to addr on the MTP
// named name: that route of a is dropped, and if it was the current one
// the next newest becomes current. It reports whether a has no route
// left, and so is offline. c.mu is held.
func (c *Controller) routeDownLocked(a *Agent, name, addr string) bool {
	c.byRoute.remove(a)
	defer c.byRoute.add(a)
	a.Routes = slices.DeleteFunc(slices.Clone(a.Routes), func(r Route) bool { return r.MTP == name && r.Address == addr })
	if a.MTP != name || a.Address != addr {
		return false
	}
	if len(a.Routes) == 0 {
		return true
	}
	c.useRouteLocked(a, a.Routes[0])
	return false
}

// useRouteLocked makes r a's current route. c.mu is held.
func (c *Controller) useRouteLocked(a *Agent, r Route) {
	c.byRoute.remove(a)
	defer c.byRoute.add(a)
	a.MTP, a.Address = r.MTP, r.Address
	for _, m := range c.opt.MTPs {
		if m.Name == r.MTP {
			a.Protocol = m.Protocol
		}
	}
}

// sendOrder is the order in which a Record for a is tried: the MTP and
// address it was last heard on (or last reached over), then every other
// route it was heard on, newest first. An Agent stored before routes were
// kept has its Protocol as the MTP name.
func sendOrder(a *Agent) []Route {
	cur := Route{MTP: a.MTP, Address: a.Address}
	if cur.MTP == "" {
		cur.MTP = a.Protocol
	}
	out := make([]Route, 0, len(a.Routes)+1)
	out = append(out, cur)
	for _, r := range a.Routes {
		if r.MTP != cur.MTP || r.Address != cur.Address {
			out = append(out, r)
		}
	}
	return out
}

// mtpNamed returns the MTP named name, or one of that protocol and name
// when there is none (a transport the Controller was not given).
func (c *Controller) mtpNamed(name string) *MTP {
	for i := range c.opt.MTPs {
		if c.opt.MTPs[i].Name == name {
			return &c.opt.MTPs[i]
		}
	}
	return &MTP{Name: name, Protocol: name}
}
