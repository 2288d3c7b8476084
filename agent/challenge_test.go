package agent_test

import (
	"encoding/base64"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/uspkit/uspkit/agent"
	"github.com/uspkit/uspkit/store"
	"github.com/uspkit/uspkit/usperr"
	"github.com/uspkit/uspkit/wire"
)

// challengeParams are the TR-181 items of ControllerTrust.Challenge and
// its commands, which TestModelMatchesTR181 requires defined (and
// compares with TR-181 2.16).
var challengeParams = []string{
	"Device.LocalAgent.ControllerTrust.ChallengeNumberOfEntries",
	"Device.LocalAgent.ControllerTrust.Challenge.{i}.Alias",
	"Device.LocalAgent.ControllerTrust.Challenge.{i}.Description",
	"Device.LocalAgent.ControllerTrust.Challenge.{i}.Role",
	"Device.LocalAgent.ControllerTrust.Challenge.{i}.Enable",
	"Device.LocalAgent.ControllerTrust.Challenge.{i}.Type",
	"Device.LocalAgent.ControllerTrust.Challenge.{i}.Value",
	"Device.LocalAgent.ControllerTrust.Challenge.{i}.ValueType",
	"Device.LocalAgent.ControllerTrust.Challenge.{i}.Instruction",
	"Device.LocalAgent.ControllerTrust.Challenge.{i}.InstructionType",
	"Device.LocalAgent.ControllerTrust.Challenge.{i}.Retries",
	"Device.LocalAgent.ControllerTrust.Challenge.{i}.LockoutPeriod",
	"Device.LocalAgent.ControllerTrust.BannedRole",
}

const (
	cmdRequestChallenge  = "Device.LocalAgent.ControllerTrust.RequestChallenge()"
	cmdChallengeResponse = "Device.LocalAgent.ControllerTrust.ChallengeResponse()"
	chal1                = "Device.LocalAgent.ControllerTrust.Challenge.1."
	chal2                = "Device.LocalAgent.ControllerTrust.Challenge.2."
)

// startChallenges runs an Agent whose only Controller (ctrlID) holds the
// Untrusted role, which may read the Challenge table and run the two
// commands, with two Challenges giving "Full Access": 1 (passphrase
// "open sesame", 3 tries, 30 s lockout) and 2 ("second", 2 tries, 2 s
// lockout).
func startChallenges(t *testing.T) *env {
	t.Helper()
	lockout := int32(2)
	return start(t, store.NewMemory(), func(o *agent.Options) {
		o.Factory = &agent.Config{
			Roles: []agent.RoleConfig{
				{Name: "Full Access", Permissions: []agent.PermissionConfig{{Targets: []string{"Device."}, Param: "rw-n", Obj: "rw-n", InstantiatedObj: "rw-n", CommandEvent: "r-xn"}}},
				{Name: "Untrusted", Permissions: []agent.PermissionConfig{
					{Targets: []string{"Device.LocalAgent.ControllerTrust.Challenge."}, Param: "r---", Obj: "r---", InstantiatedObj: "r---", CommandEvent: "----"},
					{Targets: []string{cmdRequestChallenge, cmdChallengeResponse}, Param: "----", Obj: "----", InstantiatedObj: "----", CommandEvent: "r-x-"},
				}},
			},
			UntrustedRole: "Untrusted",
			Controllers:   []agent.ControllerConfig{{EndpointID: ctrlID, Role: "Untrusted", MTPs: []agent.ControllerMTPConf{{Protocol: "UDS"}}}},
			Challenges: []agent.ChallengeConfig{
				{Alias: "admin", Description: "Request administrative privileges", Roles: []string{"Full Access"}, Value: "open sesame",
					Instruction: "Enter the passphrase printed under the device", Retries: 3},
				{Alias: "second", Description: "Another way", Roles: []string{"Full Access"}, Value: "second", Retries: 2, LockoutPeriod: &lockout},
			},
		}
	})
}

func requestChallenge(ref string, expiration string) *wire.Request {
	args := map[string]string{"ChallengeRef": ref}
	if expiration != "" {
		args["RequestExpiration"] = expiration
	}
	return operateReq(cmdRequestChallenge, "", true, args)
}

func challengeResponse(id, value string) *wire.Request {
	return operateReq(cmdChallengeResponse, "", true, map[string]string{"ChallengeID": id, "Value": base64.StdEncoding.EncodeToString([]byte(value))})
}

// outputArgs returns a successful OperateResp's output arguments.
func outputArgs(t *testing.T, m *wire.Msg) map[string]string {
	t.Helper()
	if code := opFailure(t, m); code != 0 {
		t.Fatalf("command failed with %d: %v", code, m)
	}
	return m.GetBody().GetResponse().GetOperateResp().GetOperationResults()[0].GetReqOutputArgs().GetOutputArgs()
}

// setCode returns the error code of a Set, 0 on success.
func setCode(m *wire.Msg) uint32 {
	if er := m.GetBody().GetError(); er != nil {
		return er.GetErrCode()
	}
	for _, r := range m.GetBody().GetResponse().GetSetResp().GetUpdatedObjResults() {
		if f := r.GetOperStatus().GetOperFailure(); f != nil {
			return f.GetErrCode()
		}
	}
	return 0
}

// TestChallengeGivesRole: an untrusted Controller requests a Challenge,
// gets its Instruction and a ChallengeID, answers right and holds the
// Challenge's Role, which replaces the UntrustedRole: a write refused
// with 7006 before succeeds after (TR-369 "Challenges", [R-SEC.16]).
func TestChallengeGivesRole(t *testing.T) {
	e := startChallenges(t)
	c := e.ctl
	if code := setCode(c.do(setReq(false, chal1, "Description", "mine"))); code != usperr.CodePermissionDenied {
		t.Fatalf("Set by an untrusted Controller: %d, want 7006", code)
	}
	out := outputArgs(t, c.do(requestChallenge(chal1, "")))
	if ins, _ := base64.StdEncoding.DecodeString(out["Instruction"]); string(ins) != "Enter the passphrase printed under the device" ||
		out["InstructionType"] != "text/plain" || out["ValueType"] != "text/plain" || len(out["ChallengeID"]) < 16 {
		t.Fatalf("RequestChallenge output %v", out)
	}
	// Another Challenge is denied while this one is outstanding.
	if code := opFailure(t, c.do(requestChallenge(chal2, ""))); code != usperr.CodeRequestDenied {
		t.Errorf("second outstanding RequestChallenge: %d, want 7002", code)
	}
	if code := opFailure(t, c.do(requestChallenge("Device.LocalAgent.ControllerTrust.Challenge.9.", ""))); code != usperr.CodeInvalidValue {
		t.Errorf("RequestChallenge of a missing row: %d, want 7012", code)
	}
	if code := opFailure(t, c.do(challengeResponse(out["ChallengeID"], "open sesame"))); code != 0 {
		t.Fatalf("right answer refused with %d", code)
	}
	if got := value(t, c.do(get("Device.LocalAgent.Controller.1.AssignedRole")), "Device.LocalAgent.Controller.1.AssignedRole"); got != roleFull {
		t.Errorf("AssignedRole %q, want %q (the UntrustedRole replaced)", got, roleFull)
	}
	if code := setCode(c.do(setReq(false, chal1, "Description", "mine"))); code != 0 {
		t.Fatalf("Set after the challenge: %d, want success", code)
	}
	// A ChallengeID is good for one success.
	if code := opFailure(t, c.do(challengeResponse(out["ChallengeID"], "open sesame"))); code != usperr.CodeInvalidArguments {
		t.Errorf("reused ChallengeID: %d, want 7004", code)
	}
}

// TestChallengeLockout: failures up to Retries lock the Challenge out for
// LockoutPeriod, during which even the right Value and a new
// RequestChallenge are refused with 7002; afterwards the right Value
// succeeds ([R-SEC.16], [R-SEC.17]).
func TestChallengeLockout(t *testing.T) {
	e := startChallenges(t)
	c := e.ctl
	id := outputArgs(t, c.do(requestChallenge(chal2, "")))["ChallengeID"]
	for i := range 2 {
		if code := opFailure(t, c.do(challengeResponse(id, "wrong"))); code != usperr.CodeRequestDenied {
			t.Fatalf("wrong answer %d: %d, want 7002", i+1, code)
		}
	}
	lockedAt := time.Now()
	r := c.do(challengeResponse(id, "second"))
	if code := opFailure(t, r); code != usperr.CodeRequestDenied || !strings.Contains(failureMsg(r), "locked out") {
		t.Fatalf("right answer during the lockout: %d %v, want 7002 locked out", code, r)
	}
	if code := opFailure(t, c.do(requestChallenge(chal2, ""))); code != usperr.CodeRequestDenied {
		t.Fatalf("RequestChallenge during the lockout: %d, want 7002", code)
	}
	time.Sleep(time.Until(lockedAt.Add(2100 * time.Millisecond)))
	if code := opFailure(t, c.do(challengeResponse(id, "second"))); code != 0 {
		t.Fatalf("right answer after the lockout: %d", code)
	}
	if got := value(t, c.do(get("Device.LocalAgent.Controller.1.AssignedRole")), "Device.LocalAgent.Controller.1.AssignedRole"); got != roleFull {
		t.Errorf("AssignedRole %q, want %q", got, roleFull)
	}
}

// TestChallengeFailuresBelowRetries: failures short of Retries leave the
// Challenge usable, and a success resets the count.
func TestChallengeFailuresBelowRetries(t *testing.T) {
	e := startChallenges(t)
	c := e.ctl
	id := outputArgs(t, c.do(requestChallenge(chal1, "")))["ChallengeID"]
	for range 2 {
		if code := opFailure(t, c.do(challengeResponse(id, "nope"))); code != usperr.CodeRequestDenied {
			t.Fatalf("wrong answer: %d, want 7002", code)
		}
	}
	if code := opFailure(t, c.do(challengeResponse(id, "open sesame"))); code != 0 {
		t.Fatalf("right answer after 2 of 3 tries: %d", code)
	}
}

// TestChallengeExpires: a ChallengeID is refused with 7004 once its
// RequestExpiration has passed, and the Controller may request another
// Challenge then.
func TestChallengeExpires(t *testing.T) {
	e := startChallenges(t)
	c := e.ctl
	id := outputArgs(t, c.do(requestChallenge(chal1, "1")))["ChallengeID"]
	time.Sleep(1100 * time.Millisecond)
	if code := opFailure(t, c.do(challengeResponse(id, "open sesame"))); code != usperr.CodeInvalidArguments {
		t.Fatalf("expired ChallengeID: %d, want 7004", code)
	}
	if code := opFailure(t, c.do(challengeResponse("no-such-id", "open sesame"))); code != usperr.CodeInvalidArguments {
		t.Fatalf("unknown ChallengeID: %d, want 7004", code)
	}
	outputArgs(t, c.do(requestChallenge(chal2, "")))
}

// TestChallengeValueNotReadable: the Value reads as the empty string,
// to an untrusted Controller and to one with full access alike, while
// the other parameters read as set.
func TestChallengeValueNotReadable(t *testing.T) {
	e := startChallenges(t)
	c := e.ctl
	check := func(who string) {
		t.Helper()
		m := c.do(get(chal1))
		if v := value(t, m, chal1+"Value"); v != "" {
			t.Errorf("%s reads Value %q", who, v)
		}
		if v := value(t, m, chal1+"Description"); v != "Request administrative privileges" {
			t.Errorf("%s reads Description %q", who, v)
		}
	}
	check("an untrusted Controller")
	id := outputArgs(t, c.do(requestChallenge(chal1, "")))["ChallengeID"]
	if code := opFailure(t, c.do(challengeResponse(id, "open sesame"))); code != 0 {
		t.Fatalf("right answer: %d", code)
	}
	check("a Controller with full access")
}

// TestBannedRole: a Controller whose AssignedRole holds the BannedRole
// has that Role's permissions only (none here), whatever else it holds
// (TR-369 "Roles (Access Control)", TR-181 ControllerTrust.BannedRole).
func TestBannedRole(t *testing.T) {
	e := start(t, store.NewMemory(), func(o *agent.Options) {
		o.Factory = &agent.Config{
			Roles: []agent.RoleConfig{
				{Name: "Full Access", Permissions: []agent.PermissionConfig{{Targets: []string{"Device."}, Param: "rw-n", Obj: "rw-n", InstantiatedObj: "rw-n", CommandEvent: "r-xn"}}},
				{Name: "Untrusted"},
				{Name: "Banned"},
			},
			Controllers: []agent.ControllerConfig{{EndpointID: ctrlID, MTPs: []agent.ControllerMTPConf{{Protocol: "UDS"}}}},
		}
	})
	c := e.ctl
	const banned = "Device.LocalAgent.ControllerTrust.Role.3"
	if code := setCode(c.do(setReq(false, "Device.LocalAgent.Controller.1.", "AssignedRole", roleFull+","+banned))); code != 0 {
		t.Fatalf("Set AssignedRole: %d", code)
	}
	// Without a BannedRole, Role.3 is one more role: the Controller keeps
	// Full Access.
	if code := setCode(c.do(setReq(false, "Device.LocalAgent.Controller.1.", "PeriodicNotifInterval", "61"))); code != 0 {
		t.Fatalf("Set before the ban: %d", code)
	}
	if code := setCode(c.do(setReq(false, "Device.LocalAgent.ControllerTrust.", "BannedRole", banned))); code != 0 {
		t.Fatalf("Set BannedRole: %d", code)
	}
	if code := setCode(c.do(setReq(false, "Device.LocalAgent.Controller.1.", "PeriodicNotifInterval", "62"))); code != usperr.CodePermissionDenied {
		t.Fatalf("Set by a banned Controller: %d, want 7006", code)
	}
	if code := opFailure(t, c.do(requestChallenge(chal1, ""))); code == 0 {
		t.Fatal("RequestChallenge by a banned Controller succeeded")
	}
}

// TestChallengeConfigValidate names the wrong field of a factory
// Challenge.
func TestChallengeConfigValidate(t *testing.T) {
	neg := int32(-1)
	for _, tt := range []struct {
		name string
		ch   agent.ChallengeConfig
		err  string
	}{
		{"good", agent.ChallengeConfig{Value: "pass", Roles: []string{"Full Access"}}, ""},
		{"no value", agent.ChallengeConfig{Roles: []string{"Full Access"}}, "challenges[0].value"},
		{"unknown role", agent.ChallengeConfig{Value: "pass", Roles: []string{"Nobody"}}, "challenges[0].roles"},
		{"instruction type", agent.ChallengeConfig{Value: "pass", InstructionType: "text/markdown"}, "challenges[0].instruction_type"},
		{"negative lockout", agent.ChallengeConfig{Value: "pass", LockoutPeriod: &neg}, "challenges[0].lockout_period"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := (&agent.Config{Challenges: []agent.ChallengeConfig{tt.ch}}).Validate()
			if tt.err == "" && err != nil || tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)) {
				t.Errorf("Validate: %v, want %q", err, tt.err)
			}
		})
	}
}

// ExampleChallengeConfig gives "Full Access" to the Controller that
// answers the passphrase printed under the device, with three tries
// before a 5-minute lockout.
func ExampleChallengeConfig() {
	lockout := int32(300)
	cfg := agent.Config{Challenges: []agent.ChallengeConfig{{
		Alias: "admin", Description: "Request administrative privileges", Roles: []string{"Full Access"},
		Value: "k7Qe-93xP-Lm2w", Instruction: "Enter the passphrase printed under the device",
		Retries: 3, LockoutPeriod: &lockout,
	}}}
	fmt.Println(cfg.Validate())
	// Output: <nil>
}

// failureMsg is the error message of a reply: its Error's, or its one
// operation result's CmdFailure's.
func failureMsg(m *wire.Msg) string {
	if er := m.GetBody().GetError(); er != nil {
		return er.GetErrMsg()
	}
	for _, r := range m.GetBody().GetResponse().GetOperateResp().GetOperationResults() {
		return r.GetCmdFailure().GetErrMsg()
	}
	return ""
}
