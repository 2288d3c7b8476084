package agent

import (
	"context"
	"encoding/json"
	"time"

	"github.com/uspkit/uspkit/store"
)

// storeDelay is how long a Notify sent with send_resp stays in memory only
// before it is written to the store, unless its NotifyResp came first.
//
// The retry mechanism [R-NOT.1], [R-NOT.2] and, for OnBoardRequest,
// [R-NOT.6a] ask the Agent to resend a Notify until the Controller
// responds; [R-NOT.4] has the Agent start the retry count again after a
// reboot, so the resending is meant to outlive one. A Controller that is
// connected answers within milliseconds, and writing the Notify before
// sending it and removing it on the response cost two synchronous store
// transactions per Notify. A Notify is therefore written only if it is
// still unacknowledged after storeDelay (or at its first resend, or when
// the Agent stops, whichever comes first), in one transaction with the
// others due then, and removed from the store on its response only if it
// was written. What a crash (power loss, SIGKILL) within storeDelay plus
// one timer tick of sending can lose is a Notify the Controller has not
// answered yet; everything older survives.
const storeDelay = time.Second

// storePending writes to the store the Notify messages waiting for a
// response that are due (storeAt or their next resend reached by now), or
// all of them when all is set, in one transaction.
func (s *subscriptions) storePending(ctx context.Context, now time.Time, all bool) {
	s.storeMu.Lock()
	defer s.storeMu.Unlock()
	var due []*pending
	var b store.Batch
	s.mu.Lock()
	for _, p := range s.pending {
		if p.stored || p.Once || !all && p.storeAt.After(now) && p.next.After(now) {
			continue
		}
		data, err := json.Marshal(p)
		if err != nil {
			s.a.log.WarnContext(ctx, "pending notification not persisted", "msg_id", p.MsgID, "err", err)
			continue
		}
		b.PutItems = append(b.PutItems, store.Item{Kind: "notify", ID: p.MsgID, Data: data})
		due = append(due, p)
	}
	s.mu.Unlock()
	if len(due) == 0 {
		return
	}
	if err := s.a.opt.Store.Apply(ctx, &b); err != nil {
		// Tried again at the next tick.
		s.a.log.WarnContext(ctx, "pending notifications not persisted", "count", len(due), "err", err)
		return
	}
	s.mu.Lock()
	for _, p := range due {
		p.stored = true
	}
	s.mu.Unlock()
}
