package e2e_test

import (
	"fmt"
	"time"

	"github.com/uspkit/uspkit/e2e"
)

// A Controller and an Agent exchange a Msg too large for one Record.
func Example() {
	now := time.Now()
	cfg := e2e.Config{MaxRecordSize: 1024}
	ctl := e2e.NewTable("proto::ctl", func(string) (e2e.Mode, e2e.Config) { return e2e.Require, cfg })
	agt := e2e.NewTable("os::agent", func(string) (e2e.Mode, e2e.Config) { return e2e.Allow, cfg })

	recs, _ := ctl.Send("os::agent", make([]byte, 3000), now)
	fmt.Println("records:", len(recs))
	for _, r := range recs {
		got, _, err := agt.Receive(r, now)
		if err != nil {
			fmt.Println(err)
			return
		}
		for _, m := range got.Msgs {
			fmt.Println("message of", len(m), "bytes")
		}
	}
	// Output:
	// records: 4
	// message of 3000 bytes
}
