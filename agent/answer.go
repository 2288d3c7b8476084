package agent

import (
	"context"
	"errors"
	"fmt"

	"github.com/uspkit/uspkit/mtp"
	"github.com/uspkit/uspkit/record"
	"github.com/uspkit/uspkit/usperr"
	"github.com/uspkit/uspkit/wire"
)

// maxErrText bounds each message of an Error cut down to fit an MTP.
const maxErrText = 256

// answer sends the response or Error to a Controller's request. The
// Controller always gets an answer [R-MSG.0]: when the MTP cannot carry
// the Record (mtp.ErrTooLarge, at once and before anything is sent), an
// Error keeps its code with its messages cut short, and a response is
// replaced by an Error 7005 Resources exceeded that says why. Any other
// failure to send is the MTP's to report (the connection is gone, and
// with it the Controller's request); it is logged.
func (a *Agent) answer(ctx context.Context, protocol string, t mtp.Transport, addr, to string, reply *wire.Msg) {
	payload, err := wire.MarshalMsg(reply)
	if err != nil {
		a.log.ErrorContext(ctx, "response could not be encoded", "err", err)
		reply = errMsg(reply.GetHeader().GetMsgId(), usperr.Errorf(usperr.CodeInternal, "response could not be encoded"))
		payload, _ = wire.MarshalMsg(reply)
	}
	ctx = a.retainResponse(ctx, protocol, t, to, reply)
	err = a.sendPayload(ctx, t, addr, to, payload)
	if err == nil {
		return
	}
	if !errors.Is(err, mtp.ErrTooLarge) {
		a.log.WarnContext(ctx, "record not sent", "to", to, "addr", addr, "err", err)
		return
	}
	for _, small := range smallerAnswers(reply, len(payload), protocol) {
		b, err := wire.MarshalMsg(small)
		if err != nil {
			continue
		}
		err = a.sendPayload(mtp.WithRetain(ctx, false), t, addr, to, b) // an Error: never retained
		if err == nil {
			a.log.WarnContext(ctx, "answer too large for the MTP; a smaller Error sent instead", "to", to, "mtp", protocol,
				"msg_id", reply.GetHeader().GetMsgId(), "size", len(payload), "sent", len(b))
			return
		}
		if !errors.Is(err, mtp.ErrTooLarge) {
			a.log.WarnContext(ctx, "record not sent", "to", to, "addr", addr, "err", err)
			return
		}
	}
	a.log.ErrorContext(ctx, "no answer fits the MTP", "to", to, "mtp", protocol, "msg_id", reply.GetHeader().GetMsgId(), "err", err)
}

// smallerAnswers are what to send, in order, instead of reply, whose
// encoding of size bytes the MTP refused as too large: for an Error, the
// same Error with its messages cut short, then without its ParamErrs;
// then, for anything, an Error 7005 saying what happened.
func smallerAnswers(reply *wire.Msg, size int, protocol string) []*wire.Msg {
	id := reply.GetHeader().GetMsgId()
	var out []*wire.Msg
	if e := reply.GetBody().GetError(); e != nil {
		cut := &wire.Error{ErrCode: e.GetErrCode(), ErrMsg: truncate(e.GetErrMsg(), maxErrText)}
		for _, pe := range e.GetParamErrs() {
			cut.ParamErrs = append(cut.ParamErrs, &wire.Error_ParamError{ParamPath: truncate(pe.GetParamPath(), maxErrText),
				ErrCode: pe.GetErrCode(), ErrMsg: truncate(pe.GetErrMsg(), maxErrText)})
		}
		out = append(out, errorMsg(id, cut))
		out = append(out, errorMsg(id, &wire.Error{ErrCode: cut.ErrCode, ErrMsg: cut.ErrMsg}))
	}
	why := fmt.Sprintf("the response to this request (%s, %d bytes) is larger than the %s MTP carries; the request was processed, ask for less to get its results",
		reply.GetHeader().GetMsgType(), size, protocol)
	if e := reply.GetBody().GetError(); e != nil {
		why = fmt.Sprintf("the Error %d answering this request is larger than the %s MTP carries", e.GetErrCode(), protocol)
	}
	return append(out, errMsg(id, usperr.Errorf(usperr.CodeResourcesExceeded, "%s", why)))
}

func errorMsg(id string, e *wire.Error) *wire.Msg {
	return &wire.Msg{Header: &wire.Header{MsgId: id, MsgType: wire.Header_ERROR}, Body: &wire.Body{MsgBody: &wire.Body_Error{Error: e}}}
}

// truncate cuts s to at most n bytes, on a rune boundary, marking the cut.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n - len("…")
	for cut > 0 && s[cut]&0xC0 == 0x80 {
		cut--
	}
	return s[:cut] + "…"
}

// send encodes rec and hands it to t.
func (a *Agent) send(ctx context.Context, t mtp.Transport, addr string, rec *record.Record) error {
	b, err := rec.MarshalBinary()
	if err != nil {
		return fmt.Errorf("agent: encoding record: %w", err)
	}
	return t.Send(ctx, addr, b)
}
