package ws_test

import (
	"fmt"

	"github.com/uspkit/uspkit/mtp"
	"github.com/uspkit/uspkit/mtp/ws"
)

// A transport tells the layer above the largest Record it sends, so that
// a Controller refuses a larger request at once instead of queueing it.
func ExampleClient_MaxRecord() {
	var t mtp.Transport = ws.NewClient(&ws.Options{MaxRecord: 1 << 20})
	if l, ok := t.(mtp.Limited); ok {
		fmt.Println(l.MaxRecord())
	}
	t = ws.NewClient(nil)
	fmt.Println(t.(mtp.Limited).MaxRecord() == mtp.DefaultMaxRecord)
	// Output:
	// 1048576
	// true
}
