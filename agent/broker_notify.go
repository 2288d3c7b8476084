package agent

import (
	"context"

	"github.com/uspkit/uspkit/wire"
)

// notify takes a Notify from a USP Service's Agent and answers it with a
// NotifyResp when the Service asks for one.
func (b *broker) notify(ctx context.Context, from, id string, n *wire.Notify) *wire.Msg {
	b.a.log.DebugContext(ctx, "broker: notify from usp service", "from", from, "subscription", n.GetSubscriptionId())
	if !n.GetSendResp() {
		return nil
	}
	return respMsg(id, wire.Header_NOTIFY_RESP, &wire.Response{RespType: &wire.Response_NotifyResp{
		NotifyResp: &wire.NotifyResp{SubscriptionId: n.GetSubscriptionId()}}})
}

// serviceGone runs after a USP Service disconnected and lost its
// registrations.
func (b *broker) serviceGone(ctx context.Context, s *uspService) {}
