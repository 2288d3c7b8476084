package controller_test

import (
	"context"
	"fmt"
	"time"

	"github.com/uspkit/uspkit/controller"
)

// Settings for one Agent, as the REST API's PUT /api/v1/agents/{id}/e2e
// takes them: sessions required, TLS12 payload security, Records of at
// most 4096 bytes, idle sessions ended after ten minutes.
func ExampleNewSessionSettings() {
	s, err := controller.NewSessionSettings("require", "TLS12", 4096, 10*time.Minute, 0)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(s.Policy, controller.PayloadSecurityName(s.Config.Security), s.Config.MaxRecordSize, s.Config.Expiration)
	_, err = controller.NewSessionSettings("require", "TLS13", 0, 0, 0)
	fmt.Println(err)
	// Output:
	// require TLS12 4096 10m0s
	// controller: invalid E2E session settings: payload security "TLS13": want PLAINTEXT or TLS12
}

// An Agent's own session settings, kept in the Controller's store; a
// Controller without E2E certificates refuses TLS12.
func ExampleController_SaveSessions() {
	ctx := context.Background()
	c, err := controller.New(ctx, controller.Options{EndpointID: "proto::ctl"})
	if err != nil {
		fmt.Println(err)
		return
	}
	s, _ := controller.NewSessionSettings("prefer", "PLAINTEXT", 0, 0, 0)
	fmt.Println(c.SaveSessions(ctx, "os::012345-A", s))
	got, established := c.Sessions("os::012345-A")
	fmt.Println(got.Policy, established)
	tls12, _ := controller.NewSessionSettings("require", "TLS12", 0, 0, 0)
	fmt.Println(c.SaveSessions(ctx, "os::012345-A", tls12))
	sec, up := c.SessionState("os::012345-A")
	fmt.Println(controller.PayloadSecurityName(sec), up)
	// Output:
	// <nil>
	// prefer false
	// controller: invalid E2E session settings: TLS12 without the controller's E2E certificate
	// PLAINTEXT false
}
