package controller_test

import (
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
