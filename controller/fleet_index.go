package controller

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/uspkit/uspkit/store"
)

// indexQueue holds the Agents whose fleet index rows are out of date. A
// flush writes them all in one transaction, as the registry has them at
// the flush, so that a burst of contacts costs a few commits rather than
// one per Agent, and a row is never overwritten by an older state.
type indexQueue struct {
	mu    sync.Mutex
	dirty map[string]bool
	wake  chan struct{}
	// flush is held across a flush's read of the registry and its write.
	flush sync.Mutex
}

// wakeCh returns the channel that says there is something to flush.
func (q *indexQueue) wakeCh() chan struct{} {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.wake == nil {
		q.wake = make(chan struct{}, 1)
	}
	return q.wake
}

// add marks an Agent's row out of date.
func (q *indexQueue) add(id string) {
	wake := q.wakeCh()
	q.mu.Lock()
	if q.dirty == nil {
		q.dirty = map[string]bool{}
	}
	q.dirty[id] = true
	q.mu.Unlock()
	select {
	case wake <- struct{}{}:
	default:
	}
}

// take returns the Agents marked and forgets them.
func (q *indexQueue) take() []string {
	q.mu.Lock()
	defer q.mu.Unlock()
	ids := make([]string, 0, len(q.dirty))
	for id := range q.dirty {
		ids = append(ids, id)
	}
	clear(q.dirty)
	slices.Sort(ids)
	return ids
}

// indexAgent marks a's row in the fleet index out of date; the indexer
// writes it shortly (see runIndexer).
func (c *Controller) indexAgent(_ context.Context, a *Agent) {
	if c.index() != nil {
		c.fleet.idx.add(a.ID)
	}
}

// indexEvent follows an Agent going offline in the fleet index (coming
// online persists the Agent, which indexes it).
func (c *Controller) indexEvent(_ context.Context, e Event) {
	if e.Kind == "offline" && c.index() != nil {
		c.fleet.idx.add(e.Agent)
		c.fleet.poke()
	}
}

// flushIndex writes the rows marked out of date: those of Agents in the
// registry as they are now, and deletes those of Agents no longer in it.
func (c *Controller) flushIndex(ctx context.Context) {
	idx := c.index()
	if idx == nil {
		return
	}
	q := &c.fleet.idx
	q.flush.Lock()
	defer q.flush.Unlock()
	ids := q.take()
	if len(ids) == 0 {
		return
	}
	var recs []store.AgentRecord
	var gone []string
	c.mu.Lock()
	for _, id := range ids {
		if a := c.agents[id]; a != nil {
			recs = append(recs, indexRecord(a))
		} else {
			gone = append(gone, id)
		}
	}
	c.mu.Unlock()
	ctx = context.WithoutCancel(ctx)
	if err := idx.PutAgents(ctx, recs); err != nil {
		c.log.WarnContext(ctx, "agents not indexed, retrying", "agents", len(recs), "err", err)
		for _, id := range ids {
			q.add(id)
		}
		return
	}
	if len(gone) > 0 {
		if err := idx.DeleteAgents(ctx, gone); err != nil {
			c.log.WarnContext(ctx, "agents not removed from the index", "agents", len(gone), "err", err)
		}
	}
}

// indexerPause is the least time between two flushes of the index: the
// contacts of a burst go in one transaction.
const indexerPause = 20 * time.Millisecond

// runIndexer flushes the index as rows go out of date, until ctx ends,
// and once more then.
func (c *Controller) runIndexer(ctx context.Context) {
	defer c.flushIndex(context.WithoutCancel(ctx))
	wake := c.fleet.idx.wakeCh()
	for {
		select {
		case <-ctx.Done():
			return
		case <-wake:
		}
		c.flushIndex(ctx)
		select {
		case <-ctx.Done():
			return
		case <-time.After(indexerPause):
		}
	}
}
