package wire_test

import (
	"fmt"

	"github.com/uspkit/uspkit/wire"
)

func ExampleUnmarshalMsg() {
	b, err := wire.MarshalMsg(&wire.Msg{
		Header: &wire.Header{MsgId: "1", MsgType: wire.Header_GET},
		Body: &wire.Body{MsgBody: &wire.Body_Request{Request: &wire.Request{
			ReqType: &wire.Request_Get{Get: &wire.Get{ParamPaths: []string{"Device.DeviceInfo."}}},
		}}},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	var m wire.Msg
	if err := wire.UnmarshalMsg(b, &m); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(m.GetHeader().GetMsgType(), m.GetBody().GetRequest().GetGet().GetParamPaths())
	// Output: GET [Device.DeviceInfo.]
}
