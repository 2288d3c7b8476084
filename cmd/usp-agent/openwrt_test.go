//go:build linux

package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/uspkit/uspkit/internal/testenv"
	"github.com/uspkit/uspkit/wire"
)

const openwrtInit = "../../packaging/openwrt/usp-agent/files/usp-agent.init"

// procdShim stands in for OpenWrt's /lib/functions.sh and procd.sh: UCI
// files are loaded as shell (config and option are functions, as
// config_load does), config_get and config_get_bool read what they set,
// and procd_set_param command writes the command line to $PROCD_OUT, one
// argument a line.
const procdShim = `
config() { _usp_sec="$3"; [ -n "$_usp_sec" ] || _usp_sec="$2"; }
option() { eval "CONFIG_${_usp_sec}_$1=\$2"; }
list() { :; }
config_load() { . "$UCI_CONFIG_DIR/$1"; }
config_get() {
	eval "_usp_v=\${CONFIG_$2_$3-}"
	[ -n "$_usp_v" ] || _usp_v="$4"
	eval "$1=\$_usp_v"
}
config_get_bool() {
	config_get "$@"
	eval "_usp_v=\$$1"
	case "$_usp_v" in
	1|on|true|yes|enabled) eval "$1=1" ;;
	0|off|false|no|disabled) eval "$1=0" ;;
	*) eval "$1=\$4" ;;
	esac
}
procd_open_instance() { :; }
procd_close_instance() { :; }
procd_set_param() {
	[ "$1" = command ] || return 0
	shift
	for a in "$@"; do echo "$a"; done > "$PROCD_OUT"
}
`

// TestOpenWrtService runs the package's init script's start_service, with
// procd and UCI shims, on a /etc/config/usp-agent pointing at mosquitto on
// loopback; starts the command it hands procd (the device build), and
// checks that the agent comes up with the configured Endpoint ID, MQTT
// topics and identity, and answers its factory Controller.
func TestOpenWrtService(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the agent")
	}
	sh := testenv.LookPath(t, "busybox", "busybox")
	bin := buildDeviceTags(t, t.TempDir(), []string{"GOARCH=" + runtime.GOARCH}, "usp_noproto") // as the package's Makefile builds it
	url := "tcp://" + testenv.StartMosquitto(t).Plain
	dir := privateTemp(t)
	n := time.Now().UnixNano()
	agentID, ctrlID := "os::00D0F1-OWRT1", "proto::openwrt-ctl"
	ctrlTopic := fmt.Sprintf("usp/controller/openwrt/%d", n)
	uci := fmt.Sprintf(`config agent 'agent'
	option enabled '1'
	option endpoint_id '%s'
	option data_dir '%s/data'
	option store 'journal'
	option log_level 'warn'
	option syslog '0'

config mqtt 'mqtt'
	option url '%s'
	option mqtt_version '5'

config controller 'controller'
	option endpoint_id '%s'
	option topic '%s'

config platform 'platform'
	option reboot '0'
	option factory_reset '0'
	option manufacturer_oui '00D0F1'
	option manufacturer 'ACME'
`, agentID, dir, url, ctrlID, ctrlTopic)
	os.WriteFile(filepath.Join(dir, "usp-agent"), []byte(uci), 0o600)
	model := filepath.Join(dir, "model")
	os.WriteFile(model, []byte("ACME AX-1\n"), 0o600)
	yaml, procd := filepath.Join(dir, "var/etc/usp-agent.yaml"), filepath.Join(dir, "procd")
	cmd := exec.Command(sh, "sh", "-c", procdShim+`. "$USP_INIT"; start_service`)
	cmd.Env = append(os.Environ(), "UCI_CONFIG_DIR="+dir, "USP_INIT="+openwrtInit, "PROCD_OUT="+procd, "USP_AGENT_PROG="+bin,
		"USP_AGENT_YAML="+yaml, "USP_AGENT_SYSINFO="+model)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("start_service: %v\n%s", err, out)
	}
	if fi, err := os.Stat(yaml); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("the YAML: %v %v, want mode 0600 (it may hold the MQTT password)", fi, err)
	}
	b, err := os.ReadFile(procd)
	if err != nil {
		t.Fatal(err)
	}
	argv := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(argv) != 3 || argv[0] != bin || argv[1] != "--config" || argv[2] != yaml {
		t.Fatalf("procd command %q, want [%s --config %s]", argv, bin, yaml)
	}
	// startDevice adds --config itself: hand it the command without it.
	conf, _ := os.ReadFile(yaml)
	startDevice(t, string(conf), argv[0])
	c := newCtl(t, url, ctrlID, ctrlTopic, agentID, "usp/agent/"+agentID)
	c.waitReady(t, 60*time.Second)
	get := &wire.Request{ReqType: &wire.Request_Get{Get: &wire.Get{ParamPaths: []string{"Device.DeviceInfo.Manufacturer",
		"Device.DeviceInfo.ManufacturerOUI", "Device.DeviceInfo.ModelName", "Device.LocalAgent.EndpointID"}}}}
	r, err := c.do(wire.Header_GET, get, 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, rp := range r.GetBody().GetResponse().GetGetResp().GetReqPathResults() {
		for _, res := range rp.GetResolvedPathResults() {
			for k, v := range res.GetResultParams() {
				got[res.GetResolvedPath()+k] = v
			}
		}
	}
	want := map[string]string{"Device.DeviceInfo.Manufacturer": "ACME", "Device.DeviceInfo.ManufacturerOUI": "00D0F1",
		"Device.DeviceInfo.ModelName": "ACME AX-1", "Device.LocalAgent.EndpointID": agentID}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
}
