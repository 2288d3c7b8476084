package mtp_test

import (
	"context"
	"fmt"

	"github.com/uspkit/uspkit/mtp"
)

// A Send whose context comes from WithRetain(ctx, true) asks the MTP to
// keep the Record for later subscribers (RETAIN on MQTT); Retain is what
// a transport reads.
func ExampleWithRetain() {
	ctx := mtp.WithRetain(context.Background(), true)
	fmt.Println(mtp.Retain(ctx), mtp.Retain(context.Background()))
	// Output: true false
}
