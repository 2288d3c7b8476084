package cli_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/uspkit/uspkit/wire"
)

// TestUSPBrokerDeploymentUnitRef: a `usp service` installed with
// InstallDU() and run as the Execution Unit of a Process environment gets
// its Deployment Unit in Device.USPServices.USPService.{i}.
// DeploymentUnitRef (the Broker matches the process on the other end of
// the Service's socket with the unit's process group); a Service started
// outside Software Module Management has it empty (TR-369 appendix
// "Software Modularization", "USPService Data Model Table").
func TestUSPBrokerDeploymentUnitRef(t *testing.T) {
	b := startUSPBroker(t, "", "software_modules:\n  exec_envs: [process]\n  stop_timeout: 3s\n")
	bin, err := filepath.Abs(b.bin)
	if err != nil {
		t.Fatal(err)
	}
	svcConf := filepath.Join(b.dir, "du-service.yaml")
	if err := os.WriteFile(svcConf, fmt.Appendf(nil, "endpoint_id: os::012345-DUSVC\nlog_level: error\nsocket: %s\nobject: Device.X_USPKIT_Unit.\n", b.ctlSock), 0o600); err != nil {
		t.Fatal(err)
	}
	manifest, _ := json.Marshal(map[string]any{"name": "svc", "version": "1.0", "vendor": "uspkit", "command": []string{bin, "service", "--config", svcConf}})
	var du bytes.Buffer
	gz := gzip.NewWriter(&du)
	tw := tar.NewWriter(gz)
	tw.WriteHeader(&tar.Header{Name: "manifest.json", Mode: 0o644, Size: int64(len(manifest))})
	tw.Write(manifest)
	tw.Close()
	gz.Close()
	files := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(du.Bytes()) }))
	defer files.Close()

	operate := func(cmd string, args map[string]string) {
		t.Helper()
		m, err := b.ctl.Do(context.Background(), b.id, &wire.Request{ReqType: &wire.Request_Operate{Operate: &wire.Operate{Command: cmd,
			CommandKey: "du", SendResp: true, InputArgs: args}}})
		if err != nil || len(m.GetBody().GetResponse().GetOperateResp().GetOperationResults()) != 1 ||
			m.GetBody().GetResponse().GetOperateResp().GetOperationResults()[0].GetCmdFailure() != nil {
			t.Fatalf("%s: %v %v", cmd, m, err)
		}
	}
	b.service(t, "PLAIN", "Device.X_USPKIT_Plain.", false)
	operate("Device.SoftwareModules.InstallDU()", map[string]string{"URL": files.URL + "/svc.tgz", "ExecutionEnvRef": "Device.SoftwareModules.ExecEnv.1"})
	var duPath string
	for deadline := time.Now().Add(20 * time.Second); duPath == ""; time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the Deployment Unit was not installed")
		}
		for k, v := range getParams(t, b.ctl, b.id, "Device.SoftwareModules.DeploymentUnit.") {
			if strings.HasSuffix(k, ".Name") && v == "svc" {
				duPath = strings.TrimSuffix(k, ".Name")
			}
		}
	}
	operate("Device.SoftwareModules.ExecutionUnit.1.SetRequestedState()", map[string]string{"RequestedState": "Active"})

	// refs maps each USPService's EndpointID to its DeploymentUnitRef.
	refs := func() map[string]string {
		v := getParams(t, b.ctl, b.id, "Device.USPServices.")
		out := map[string]string{}
		for k, id := range v {
			if row, ok := strings.CutSuffix(k, ".EndpointID"); ok {
				out[id] = v[row+".DeploymentUnitRef"]
			}
		}
		return out
	}
	var got map[string]string
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		got = refs()
		if _, ok := got["os::012345-DUSVC"]; ok {
			if _, ok := got["os::012345-PLAIN"]; ok {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the Services did not both register: %v", got)
		}
	}
	if got["os::012345-DUSVC"] != duPath || got["os::012345-PLAIN"] != "" {
		t.Errorf("DeploymentUnitRef: %v, want %s for the unit's Service and empty for the other", got, duPath)
	}
	// The unit stopped, its Service's row goes with it.
	operate("Device.SoftwareModules.ExecutionUnit.1.SetRequestedState()", map[string]string{"RequestedState": "Idle"})
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if _, ok := refs()["os::012345-DUSVC"]; !ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the Service of the stopped unit is still listed")
		}
	}
}
