package cli_test

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const embeddedFleetController = `endpoint_id: proto::fleet-ctl
data: %s
http: 127.0.0.1:0
log_level: warn
embedded_broker:
  listen: 127.0.0.1:0
  tls_listen: 127.0.0.1:0
`

// embeddedFleetAgent is `usp agent` on the embedded broker with the
// credentials `usp agents add` gave it: a password, or (tls) a
// certificate and key.
const embeddedFleetAgent = `endpoint_id: %s
data: %s
log_level: warn
mtps:
  - protocol: MQTT
    url: %s
    mqtt_version: "5"
%s    topic: usp/agent/%s
    controller_topic: usp/controller/controller/uspkit
factory:
  controllers:
    - endpoint_id: proto::fleet-ctl
      mtps:
        - protocol: MQTT
          topic: usp/controller/controller/uspkit
`

// `usp controller` manages `usp agent` through its embedded broker, each
// agent logging in with its own account from `usp agents add`: a password,
// or a client certificate from the controller's CA over TLS. Get, Set,
// Add, Operate, a Notify acknowledged and Delete; the identity is
// verified (account, own topic, from_id in one chain).
func TestControllerEmbeddedBrokerFleet(t *testing.T) {
	bin := buildUSP(t)
	dir := t.TempDir()
	data := filepath.Join(dir, "ctl")
	ctl := startConfigured(t, bin, "controller", dir, "ctl.yaml", fmt.Sprintf(embeddedFleetController, data))
	api := apiOf(t, ctl)
	for _, tc := range []struct{ name, id string }{{"password", "os::00D09E-FLEETPW"}, {"certificate", "os::00D09E-FLEETCERT"}} {
		t.Run(tc.name, func(t *testing.T) {
			args := []string{"agents", "add", tc.id}
			url, creds := ctl.lines["mqtt"], ""
			if tc.name == "certificate" {
				args = append(args, "--cert", "--out", filepath.Join(dir, "certs"))
				url = strings.Replace(ctl.lines["mqtts"], "tls://", "ssl://", 1)
			}
			out, errs, code := uspRun(t, bin, data, args...)
			if code != 0 {
				t.Fatalf("agents add: %s %s", out, errs)
			}
			f := fields(out)
			if tc.name == "password" {
				creds = fmt.Sprintf("    username: %s\n    password: %s\n", f["username"], f["password"])
			} else {
				creds = fmt.Sprintf("    tls:\n      cert: %s\n      key: %s\n      ca: %s\n", f["certificate"], f["key"], f["ca"])
			}
			conf := fmt.Sprintf(embeddedFleetAgent, tc.id, filepath.Join(dir, tc.name), url, creds, tc.id)
			startConfigured(t, bin, "agent", dir, tc.name+".yaml", conf)
			ag := api.waitOnline(t, tc.id, 30*time.Second)
			if ag.Trust != "verified" {
				t.Errorf("identity %q, want verified", ag.Trust)
			}
			exerciseAPI(t, api, tc.id)
		})
	}
}
