package controller

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/uspkit/uspkit/store"
)

// forgetLocked drops what the Controller holds in memory for Agent id
// and returns the batch deleting what it stored: the Agent, its queued
// requests and its E2E session settings. ok is false when nothing was
// kept. c.mu is held.
func (c *Controller) forgetLocked(id string) (b *store.Batch, ok bool) {
	a, known := c.agents[id]
	_, hasE2E := c.sess.perAgent[id]
	if !known && !hasE2E {
		return nil, false
	}
	b = &store.Batch{}
	if known {
		c.byRoute.remove(a)
		delete(c.agents, id)
		c.countPendingLocked(a.Pending, false)
		b.DeleteItems = append(b.DeleteItems, store.Item{Kind: "agent", ID: id})
	}
	for _, r := range c.queued[id] {
		b.DeleteItems = append(b.DeleteItems, store.Item{Kind: "queue", ID: r.ID})
	}
	delete(c.queued, id)
	if hasE2E {
		b.DeleteItems = append(b.DeleteItems, store.Item{Kind: "e2e", ID: id})
	}
	delete(c.sess.perAgent, id)
	delete(c.sess.refused, id)
	for k := range c.seen { // Notifies handled: the key starts with the Agent
		if strings.HasPrefix(k, id+"\x00") {
			delete(c.seen, k)
		}
	}
	return b, true
}

// dropFromGroups removes Agent id from the static groups that list it.
func (c *Controller) dropFromGroups(ctx context.Context, id string) error {
	c.fleet.persist.Lock()
	defer c.fleet.persist.Unlock()
	c.fleet.mu.Lock()
	c.fleet.init()
	var changed []Group
	for _, g := range c.fleet.groups {
		if slices.Contains(g.Static, id) {
			x := *g
			x.Static = slices.DeleteFunc(slices.Clone(g.Static), func(m string) bool { return m == id })
			changed = append(changed, x)
		}
	}
	c.fleet.mu.Unlock()
	if len(changed) == 0 {
		return nil
	}
	b := &store.Batch{}
	for i := range changed {
		b.PutItems = append(b.PutItems, groupItem(&changed[i]))
	}
	if err := c.opt.Store.Apply(ctx, b); err != nil {
		return fmt.Errorf("controller: removing the agent from its groups: %w", err)
	}
	c.fleet.mu.Lock()
	for i := range changed {
		if c.fleet.groups[changed[i].ID] != nil {
			c.fleet.groups[changed[i].ID] = &changed[i]
		}
	}
	c.fleet.mu.Unlock()
	return nil
}
