package usperr_test

import (
	"errors"
	"fmt"

	"github.com/uspkit/uspkit/usperr"
)

func Example() {
	err := usperr.Errorf(usperr.CodeInvalidValue, "PeriodicNotifInterval: 0 is below 1")
	err = err.WithPath("Device.LocalAgent.Controller.1.PeriodicNotifInterval")
	wrapped := fmt.Errorf("set: %w", err)
	fmt.Println(usperr.Code(wrapped))
	fmt.Println(usperr.Message(wrapped))
	// Output:
	// 7012
	// PeriodicNotifInterval: 0 is below 1
}

func ExampleCode() {
	fmt.Println(usperr.Code(nil), usperr.Code(errors.New("boom")), usperr.Code(usperr.New(usperr.CodeInvalidPath, "")))
	// Output: 0 7003 7026
}
