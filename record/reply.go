package record

import (
	"github.com/uspkit/uspkit/endpoint"
	"github.com/uspkit/uspkit/usperr"
	"github.com/uspkit/uspkit/wire"
)

// ErrorReply builds the Record that answers an erroneous Record in with a
// USP Error Msg carrying err's code and message, as [R-MTP.5] requires. It
// returns nil when the spec says the erroneous Record must be ignored: its
// from_id is not a valid Endpoint ID, its to_id is not self, or it does not
// carry a Request Msg whose msg_id can be read. The caller still needs an
// MTP-specific return path to send the reply.
func ErrorReply(in *Record, self string, err error) *Record {
	if in == nil || in.ToID != self || endpoint.Validate(in.FromID) != nil {
		return nil
	}
	if in.Type != TypeNoSessionContext {
		return nil
	}
	var msg wire.Msg
	if wire.UnmarshalMsg(in.Payload, &msg) != nil {
		return nil
	}
	id := msg.GetHeader().GetMsgId()
	if id == "" || msg.GetBody().GetRequest() == nil {
		return nil
	}
	reply := &wire.Msg{
		Header: &wire.Header{MsgId: id, MsgType: wire.Header_ERROR},
		Body: &wire.Body{MsgBody: &wire.Body_Error{Error: &wire.Error{
			ErrCode: usperr.Code(err),
			ErrMsg:  usperr.Message(err),
		}}},
	}
	payload, merr := wire.MarshalMsg(reply)
	if merr != nil {
		return nil
	}
	return NewNoSession(in.FromID, self, payload)
}
