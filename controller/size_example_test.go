package controller_test

import (
	"errors"
	"fmt"

	"github.com/uspkit/uspkit/controller"
	"github.com/uspkit/uspkit/mtp"
)

// Do refuses a request larger than the Agent's MTP carries with a
// *TooLargeError, before anything is sent or queued; a REST API maps it to
// 413.
func ExampleTooLargeError() {
	var err error = &controller.TooLargeError{Agent: "os::012345-A1", MTP: "MQTT", Size: 6 << 20, Limit: 5 << 20}
	fmt.Println(errors.Is(err, controller.ErrTooLarge), errors.Is(err, mtp.ErrTooLarge))
	var tl *controller.TooLargeError
	if errors.As(err, &tl) {
		fmt.Println(tl.Size - tl.Limit)
	}
	fmt.Println(err)
	// Output:
	// true true
	// 1048576
	// controller: request of 6291456 bytes is over the 5242880 bytes the MQTT MTP to os::012345-A1 carries
}
