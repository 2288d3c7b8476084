package cli

import (
	"strings"
	"testing"

	"github.com/uspkit/uspkit/agent"
	"github.com/uspkit/uspkit/schema"
)

// TestAgentConfigChallenges: factory.challenges is read from the agent's
// YAML and checked against the roles.
func TestAgentConfigChallenges(t *testing.T) {
	for _, tc := range []struct {
		name, yaml, err string
	}{
		{"ok", `factory:
  challenges:
    - {alias: admin, description: Admin, roles: [Full Access], value: k7Qe-93xP, instruction: Enter the passphrase, retries: 3, lockout_period: 300}
`, ""},
		{"unknown role", `factory:
  challenges:
    - {value: x, roles: [Nobody]}
`, "factory.challenges[0].roles"},
		{"no value", `factory:
  challenges:
    - {roles: [Full Access]}
`, "factory.challenges[0].value"},
		{"unknown field", `factory:
  challenges:
    - {value: x, pin: "1234"}
`, "pin"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := loadAgentConfig(strings.NewReader("endpoint_id: os::012345-CHAL\n" + tc.yaml))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			ch := c.Factory.Challenges
			if len(ch) != 1 || ch[0].Value != "k7Qe-93xP" || ch[0].Retries != 3 || ch[0].LockoutPeriod == nil || *ch[0].LockoutPeriod != 300 {
				t.Fatalf("challenges %+v", ch)
			}
		})
	}
}

// TestChallengeValueSealed: the store seals Challenge.{i}.Value at rest,
// a secured parameter, and not its Description.
func TestChallengeValueSealed(t *testing.T) {
	m := schema.New()
	agent.Define(m)
	secret := securedParam(m)
	if !secret("Device.LocalAgent.ControllerTrust.Challenge.1.", "Value") {
		t.Error("Challenge Value not sealed at rest")
	}
	if secret("Device.LocalAgent.ControllerTrust.Challenge.1.", "Description") {
		t.Error("Challenge Description sealed")
	}
}
