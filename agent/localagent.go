package agent

import (
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"encoding/hex"
	"hash"
	"slices"
	"strconv"
	"strings"

	"github.com/uspkit/uspkit/datamodel"
	"github.com/uspkit/uspkit/usperr"
)

// Paths of the Agent's own objects.
const (
	pathLocalAgent   = "Device.LocalAgent."
	pathControllers  = "Device.LocalAgent.Controller."
	pathSubs         = "Device.LocalAgent.Subscription."
	pathRoles        = "Device.LocalAgent.ControllerTrust.Role."
	pathTrust        = "Device.LocalAgent.ControllerTrust."
	pathRequests     = "Device.LocalAgent.Request."
	pathLocalAgentMT = "Device.LocalAgent.MTP."
	pathMQTTClients  = "Device.MQTT.Client."
	pathSTOMPConns   = "Device.STOMP.Connection."
)

// register binds the Agent's objects and commands on mux.
func (a *Agent) register(mux *datamodel.Mux) {
	mux.HandleFunc(pathLocalAgent, a.serveLocalAgent)
	mux.Store("Device.LocalAgent.MTP.{i}.", checkMTP)
	mux.Store("Device.MQTT.", nil)
	mux.HandleFunc("Device.MQTT.Capabilities.", serveMQTTCapabilities)
	mux.Store("Device.MQTT.Client.{i}.", checkMQTTClient)
	mux.Store("Device.MQTT.Client.{i}.Subscription.{i}.", nil)
	mux.Store("Device.STOMP.", nil)
	mux.Store("Device.STOMP.Connection.{i}.", nil)
	mux.Store("Device.LocalAgent.Controller.{i}.", a.checkController)
	mux.HandleFunc("Device.LocalAgent.Controller.{i}.SendOnBoardRequest()", a.sendOnBoardRequest)
	mux.Store("Device.LocalAgent.Controller.{i}.E2ESession.", checkE2E)
	mux.HandleFunc("Device.LocalAgent.Controller.{i}.E2ESession.Reset()", a.resetE2E)
	mux.HandleFunc("Device.LocalAgent.Certificate.{i}.", a.serveCertificates)
	if a.opt.Trust == nil {
		a.opt.Trust = NewTrustStore()
	}
	mux.HandleFunc("Device.LocalAgent.AddCertificate()", a.addCertificate) // addcert.go
	mux.Store(pathTrust, nil)
	mux.Store("Device.LocalAgent.ControllerTrust.Role.{i}.Permission.{i}.", checkPermission)
	mux.Store("Device.LocalAgent.ControllerTrust.Credential.{i}.", a.checkCredential) // credential.go
	mux.Store("Device.LocalAgent.ControllerTrust.Challenge.{i}.", checkChallenge)     // challenge.go
	mux.HandleFunc(cmdRequestChal, a.requestChallenge)                                // challenge.go
	mux.HandleFunc(cmdChalResp, a.challengeResponse)                                  // challenge.go
	mux.Store("Device.LocalAgent.Subscription.{i}.", a.subs.check)
	mux.Handle("Device.LocalAgent.Request.{i}.", a.reqs)
	m := mux.Model()
	if m.Command("Device.Reboot()") != nil {
		mux.HandleFunc("Device.Reboot()", a.reboot)
	}
	if m.Command("Device.FactoryReset()") != nil {
		mux.HandleFunc("Device.FactoryReset()", a.factoryReset)
	}
	if m.Command("Device.ScheduleTimer()") != nil {
		mux.HandleFunc("Device.ScheduleTimer()", a.scheduleTimer)
	}
	if m.Command("Device.SelfTestDiagnostics()") != nil {
		mux.HandleFunc("Device.SelfTestDiagnostics()", a.selfTest)
	}
}

// serveLocalAgent provides Device.LocalAgent.'s own parameters.
func (a *Agent) serveLocalAgent(ctx context.Context, w datamodel.ResponseWriter, r *datamodel.Request) error {
	if r.Op != datamodel.OpGet {
		return usperr.Errorf(usperr.CodeRequestDenied, "%s cannot be changed", r.Path)
	}
	for _, n := range r.Names {
		switch n {
		case "EndpointID":
			w.SetValue(n, a.opt.EndpointID)
		case "SoftwareVersion":
			w.SetValue(n, a.opt.SoftwareVersion)
		case "UpTime":
			w.SetValue(n, strconv.FormatInt(int64(a.now().Sub(a.start).Seconds()), 10))
		case "SupportedProtocols":
			var ps []string
			for _, m := range a.opt.MTPs {
				if !slices.Contains(ps, m.Protocol) {
					ps = append(ps, m.Protocol)
				}
			}
			if a.opt.Dialer != nil {
				for _, p := range []string{"WebSocket", "MQTT", "STOMP", "UDS"} {
					if !slices.Contains(ps, p) {
						ps = append(ps, p)
					}
				}
			}
			w.SetValue(n, strings.Join(ps, ","))
		}
	}
	return nil
}

// checkController keeps Endpoint IDs of Controllers valid, and refreshes
// the Agent's view of its Controllers after a change.
func (a *Agent) checkController(ctx context.Context, r *datamodel.Request) error {
	if r.Op == datamodel.OpDelete {
		return nil
	}
	if v := r.Values["PeriodicNotifInterval"]; r.Op == datamodel.OpAdd && (v == "" || v == "0") {
		// TR-181 gives no default and a minimum of 1: a new entry gets
		// the Agent's factory value rather than an out-of-range 0.
		r.Values["PeriodicNotifInterval"] = strconv.Itoa(DefaultPeriodicNotifInterval)
	}
	if id := r.Values["EndpointID"]; id != "" {
		if err := validateEndpoint(id); err != nil {
			return usperr.Errorf(usperr.CodeInvalidValue, "EndpointID: %v", err)
		}
	}
	return a.checkControllerCredential(r) // credential.go
}

// checkPermission accepts only permission strings of the form "rwxn" with
// '-' for a missing right.
func checkPermission(ctx context.Context, r *datamodel.Request) error {
	if r.Op == datamodel.OpDelete {
		return nil
	}
	for _, name := range []string{"Param", "Obj", "InstantiatedObj", "CommandEvent"} {
		v := r.Values[name]
		if len(v) != 4 {
			return usperr.Errorf(usperr.CodeInvalidValue, "%s: %q is not 4 characters", name, v)
		}
		for i, c := range []byte(v) {
			if c != '-' && c != "rwxn"[i] {
				return usperr.Errorf(usperr.CodeInvalidValue, "%s: %q: position %d must be %q or '-'", name, v, i+1, "rwxn"[i])
			}
		}
	}
	return nil
}

// serveCertificates provides Device.LocalAgent.Certificate.{i}.: the
// certificates the Agent was configured with, then those added by
// AddCertificate() (addcert.go), with their GetFingerprint() and, for
// added ones, Delete().
func (a *Agent) serveCertificates(ctx context.Context, w datamodel.ResponseWriter, r *datamodel.Request) error {
	switch r.Op {
	case datamodel.OpList:
		for _, e := range a.certEntries() {
			w.AddInstance(e.instance)
		}
		return nil
	case datamodel.OpGet, datamodel.OpOperate, datamodel.OpSet:
	default:
		return usperr.Errorf(usperr.CodeRequestDenied, "certificates are configured on the device or added with %sAddCertificate()", pathLocalAgent)
	}
	e, ok := a.certEntry(r.Instances[len(r.Instances)-1])
	if !ok {
		return usperr.Errorf(usperr.CodeObjectNotFound, "%s does not exist", r.Path)
	}
	c := e.cert
	if r.Op == datamodel.OpSet {
		return a.setCertificate(ctx, e, r) // addcert.go
	}
	if r.Op == datamodel.OpOperate {
		if r.Command != nil && r.Command.Name == "Delete()" {
			return a.deleteCertificate(ctx, e, r)
		}
		return fingerprint(c, w, r)
	}
	for _, name := range r.Names {
		switch name {
		case "Alias":
			w.SetValue(name, e.alias)
		case "Enable":
			w.SetValue(name, strconv.FormatBool(!e.disabled))
		case "SerialNumber":
			w.SetValue(name, hexColon(c.SerialNumber.Bytes()))
		case "Issuer":
			w.SetValue(name, c.Issuer.String())
		}
	}
	return nil
}

func fingerprint(c *x509.Certificate, w datamodel.ResponseWriter, r *datamodel.Request) error {
	var h hash.Hash
	switch r.Values["FingerprintAlgorithm"] {
	case "SHA-1":
		h = sha1.New()
	case "SHA-224":
		h = sha256.New224()
	case "SHA-256":
		h = sha256.New()
	case "SHA-384":
		h = sha512.New384()
	case "SHA-512":
		h = sha512.New()
	default:
		return usperr.Errorf(usperr.CodeInvalidCommandArgs, "unknown algorithm")
	}
	h.Write(c.Raw)
	w.SetValue("Fingerprint", hex.EncodeToString(h.Sum(nil)))
	return nil
}

func hexColon(b []byte) string {
	parts := make([]string, len(b))
	for i, x := range b {
		parts[i] = hex.EncodeToString([]byte{x})
	}
	return strings.ToUpper(strings.Join(parts, ":"))
}
