package agent_test

import (
	"testing"

	"github.com/uspkit/uspkit/agent"
	"github.com/uspkit/uspkit/schema"
	"github.com/uspkit/uspkit/schema/schematest"
)

// TestModelMatchesTR181 checks every object, parameter, command and event
// the Agent defines against BBF's TR-181 2.16 document.
func TestModelMatchesTR181(t *testing.T) {
	ref := schematest.LoadTR181(t)
	m := schema.New()
	agent.Define(m)
	for _, d := range schematest.Diff(m, ref) {
		if newerThanTR181216[d] {
			continue
		}
		t.Error(d)
	}
	if m.Len() < 15 {
		t.Errorf("only %d objects defined", m.Len())
	}
	for _, p := range append(credentialParams, challengeParams...) { // credential_test.go, challenge_test.go
		if m.Param(p) == nil || ref.Param(p) == nil {
			t.Errorf("%s: defined %v, in TR-181 %v", p, m.Param(p) != nil, ref.Param(p) != nil)
		}
	}
}

// newerThanTR181216 are the differences from TR-181 2.16 the model makes
// on purpose, each as Diff reports it: OnBoardingComplete and
// OnBoardingRestartTime come with USP 1.4 and TR-181 2.17 (TP-469 1.101 to
// 1.103); TriggerConfigSettings is readOnly in 2.16, while TR-369's
// TriggerAction and TP-469 1.93 and 1.94 have a Controller write it.
var newerThanTR181216 = map[string]bool{
	"Device.LocalAgent.Controller.{i}.OnBoardingComplete: not in the reference model":    true,
	"Device.LocalAgent.Controller.{i}.OnBoardingRestartTime: not in the reference model": true,
	"Device.LocalAgent.Subscription.{i}.TriggerConfigSettings: access 1, reference 0":    true,
}
