package record_test

import (
	"fmt"

	"github.com/uspkit/uspkit/record"
	"github.com/uspkit/uspkit/usperr"
)

func Example() {
	// Sender: wrap a serialized Msg and append the Record to a buffer.
	out, err := record.NewNoSession("os::00D09E-HG-SN1", "self::ctrl", []byte("msg bytes")).AppendBinary(nil)
	if err != nil {
		panic(err)
	}

	// Receiver: decode, validate, and ignore Records for someone else.
	var r record.Record
	if err := record.Decode(out, &r, nil); err != nil {
		fmt.Println("drop:", usperr.Code(err))
		return
	}
	if err := r.Validate(); err != nil {
		fmt.Println("invalid:", usperr.Code(err))
		return
	}
	fmt.Println(r.Type, r.FromID, "->", r.ToID, string(r.Payload))
	// Output: no_session_context self::ctrl -> os::00D09E-HG-SN1 msg bytes
}

func ExampleDecode() {
	var r record.Record
	err := record.Decode([]byte{0x12, 0x05, 'a'}, &r, nil)
	fmt.Println(usperr.Code(err))
	// Output: 7100
}

func ExampleRecord_Validate() {
	r := record.NewMQTTConnect("self::ctrl", "os::00D09E-HG-SN1", record.MQTTVersion5, "")
	fmt.Println(usperr.Code(r.Validate()))
	// Output: 7104
}
