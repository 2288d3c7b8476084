package cli

import (
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/uspkit/uspkit/internal/testenv"
	"github.com/uspkit/uspkit/tr181/deviceinfo"
)

// The OpenWrt package's files (packaging/openwrt/usp-agent).
const (
	openwrtInit   = "../../packaging/openwrt/usp-agent/files/usp-agent.init"
	openwrtConfig = "../../packaging/openwrt/usp-agent/files/usp-agent.config"
)

// uciShim loads a UCI file into CONFIG_<section>_<option> variables the
// way OpenWrt's /lib/functions.sh does (the file is shell syntax: config
// and option become functions), and provides config_get and
// config_get_bool with its semantics.
const uciShim = `
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
`

// shells are the POSIX shells the init script's mapping is run under:
// OpenWrt's (busybox ash) and Debian's dash, those installed.
func shells(t *testing.T) [][]string {
	var out [][]string
	if p, err := exec.LookPath("busybox"); err == nil {
		out = append(out, []string{p, "sh"})
	}
	if p, err := exec.LookPath("dash"); err == nil {
		out = append(out, []string{p})
	}
	if len(out) == 0 {
		out = append(out, []string{testenv.LookPath(t, "sh", "dash")})
	}
	return out
}

// mapUCI runs the init script's usp_agent_yaml on the shipped UCI file
// with options replaced by set ("section.option" → value), and returns
// the configuration the agent loads from the YAML it prints.
func mapUCI(t *testing.T, sh []string, set map[string]string, sysfs string) (*agentConfig, string) {
	t.Helper()
	dir := t.TempDir()
	b, err := os.ReadFile(openwrtConfig)
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)
	for k, v := range set {
		sec, opt, _ := strings.Cut(k, ".")
		q := "'" + strings.ReplaceAll(v, "'", `'\''`) + "'"
		text += "\nconfig " + sec + " '" + sec + "'\n\toption " + opt + " " + q + "\n"
	}
	os.WriteFile(filepath.Join(dir, "usp-agent"), []byte(text), 0o600)
	model := filepath.Join(dir, "model")
	os.WriteFile(model, []byte("TP-Link Archer C7 v5\n"), 0o600)
	script := uciShim + `. "$USP_INIT"; config_load usp-agent; usp_agent_yaml`
	cmd := exec.Command(sh[0], append(sh[1:], "-c", script)...)
	cmd.Env = append(os.Environ(), "UCI_CONFIG_DIR="+dir, "USP_INIT="+openwrtInit, "USP_AGENT_SYSFS="+sysfs, "USP_AGENT_NETDEVS=eth0",
		"USP_AGENT_SYSINFO="+model)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%v: %v", sh, err)
	}
	c, err := loadAgentConfig(strings.NewReader(string(out)))
	if err != nil {
		t.Fatalf("the agent refuses the YAML the init script wrote: %v\n%s", err, out)
	}
	return c, string(out)
}

// TestOpenWrtUCIMapping runs the init script's UCI → YAML mapping under
// busybox sh and dash with a shim of OpenWrt's config_load/config_get,
// and checks the configuration the agent loads from it.
func TestOpenWrtUCIMapping(t *testing.T) {
	sysfs := t.TempDir()
	os.MkdirAll(filepath.Join(sysfs, "class/net/eth0"), 0o755)
	os.WriteFile(filepath.Join(sysfs, "class/net/eth0/address"), []byte("a4:2b:b0:01:02:0f\n"), 0o644)
	tests := []struct {
		name  string
		set   map[string]string
		check func(t *testing.T, c *agentConfig)
	}{
		{"Defaults", nil, func(t *testing.T, c *agentConfig) {
			if c.EndpointID != "os::000000-A42BB001020F" || c.Data != "/etc/usp-agent" || c.Store != "journal" || c.LogLevel != "info" {
				t.Errorf("agent: %q %q %q %q", c.EndpointID, c.Data, c.Store, c.LogLevel)
			}
			if c.Log == nil || !c.Log.Syslog || c.Log.Tag != "usp-agent" {
				t.Errorf("log: %+v", c.Log)
			}
			m := c.MTPs[0]
			if m.Protocol != "MQTT" || m.URL != "ssl://usp.example.net:8883" || m.Topic != "usp/agent/os::000000-A42BB001020F" ||
				m.ControllerTopic != "usp/controller" || m.MQTTVersion != "5" || m.TLS == nil || m.TLS.CA != "/etc/ssl/certs/ca-certificates.crt" {
				t.Errorf("mtp: %+v %+v", m, m.TLS)
			}
			p := c.Platform
			if p == nil || !reflect.DeepEqual(p.RebootCommand, []string{"/sbin/reboot"}) || len(p.FactoryResetCommand) != 3 {
				t.Fatalf("platform: %+v", p)
			}
			if !reflect.DeepEqual(p.Identity["ManufacturerOUI"], deviceinfo.Source{Value: "000000"}) || p.Identity["ModelName"].File == "" {
				t.Errorf("identity: %+v", p.Identity)
			}
			if cs := c.Factory.Controllers; len(cs) != 1 || cs[0].EndpointID != "self::usp-controller" || cs[0].MTPs[0].Topic != "usp/controller" {
				t.Errorf("factory controllers: %+v", cs)
			}
		}},
		{"Explicit", map[string]string{"agent.endpoint_id": "os::00D0F1-SN1", "mqtt.url": "tcp://10.0.0.1:1883", "mqtt.topic": "dev/sn1",
			"mqtt.username": "sn1", "mqtt.password": `p'w"d $x`, "mqtt.mqtt_version": "3.1.1", "mqtt.tls_ca": "", "controller.endpoint_id": "proto::acs",
			"controller.topic": "acs/in", "platform.manufacturer_oui": "00D0F1", "platform.serial_number": "SN1", "platform.model_name": "AX 'Pro'",
			"platform.manufacturer": "ACME", "agent.store": "bolt", "agent.log_level": "debug"}, func(t *testing.T, c *agentConfig) {
			m := c.MTPs[0]
			if c.EndpointID != "os::00D0F1-SN1" || m.URL != "tcp://10.0.0.1:1883" || m.Topic != "dev/sn1" || m.Username != "sn1" || m.Password != `p'w"d $x` ||
				m.MQTTVersion != "3.1.1" || m.TLS != nil || m.ControllerTopic != "acs/in" || c.Store != "bolt" || c.LogLevel != "debug" {
				t.Errorf("config: %+v mtp %+v", c, m)
			}
			want := map[string]deviceinfo.Source{"ManufacturerOUI": {Value: "00D0F1"}, "SerialNumber": {Value: "SN1"}, "ModelName": {Value: "AX 'Pro'"},
				"Manufacturer": {Value: "ACME"}}
			if !reflect.DeepEqual(c.Platform.Identity, want) {
				t.Errorf("identity %+v, want %+v", c.Platform.Identity, want)
			}
			if cs := c.Factory.Controllers; cs[0].EndpointID != "proto::acs" || cs[0].MTPs[0].Topic != "acs/in" {
				t.Errorf("factory controllers: %+v", cs)
			}
		}},
		{"Off", map[string]string{"agent.syslog": "0", "platform.reboot": "no", "platform.factory_reset": "off", "mqtt.tls_cert": "/etc/usp-agent/a.pem",
			"mqtt.tls_key": "/etc/usp-agent/a.key"}, func(t *testing.T, c *agentConfig) {
			if c.Log != nil {
				t.Errorf("log: %+v, want none", c.Log)
			}
			if c.Platform.RebootCommand != nil || c.Platform.FactoryResetCommand != nil {
				t.Errorf("platform commands: %+v", c.Platform)
			}
			if tl := c.MTPs[0].TLS; tl == nil || tl.Cert != "/etc/usp-agent/a.pem" || tl.Key != "/etc/usp-agent/a.key" {
				t.Errorf("tls: %+v", tl)
			}
		}},
	}
	for _, sh := range shells(t) {
		for _, tc := range tests {
			t.Run(filepath.Base(sh[0])+"/"+tc.name, func(t *testing.T) {
				c, yaml := mapUCI(t, sh, tc.set, sysfs)
				tc.check(t, c)
				if t.Failed() {
					t.Logf("YAML:\n%s", yaml)
				}
			})
		}
	}
}

// TestOpenWrtInitShellcheck runs shellcheck on the init script (skipped,
// or failed with USP_REQUIRE_EXTERNAL=1, without shellcheck).
func TestOpenWrtInitShellcheck(t *testing.T) {
	sc := testenv.LookPath(t, "shellcheck", "shellcheck")
	if out, err := exec.Command(sc, openwrtInit).CombinedOutput(); err != nil {
		t.Errorf("shellcheck %s: %v\n%s", openwrtInit, err, out)
	}
}

// TestOpenWrtPackageFiles checks that the package installs what the init
// script runs and keeps the agent's data across sysupgrade.
func TestOpenWrtPackageFiles(t *testing.T) {
	mk, err := os.ReadFile("../../packaging/openwrt/usp-agent/Makefile")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"GO_PKG_BUILD_PKG:=github.com/uspkit/uspkit/cmd/usp-agent", "GO_PKG_TAGS:=usp_device", "golang-package.mk",
		"$(1)/usr/sbin/usp-agent", "$(1)/etc/init.d/usp-agent", "$(1)/etc/config/usp-agent", "$(1)/lib/upgrade/keep.d/usp-agent", "/etc/config/usp-agent\n"} {
		if !strings.Contains(string(mk), want) {
			t.Errorf("Makefile lacks %q", want)
		}
	}
	keep, _ := os.ReadFile("../../packaging/openwrt/usp-agent/files/usp-agent.keep")
	if strings.TrimSpace(string(keep)) != "/etc/usp-agent/" {
		t.Errorf("keep.d file %q, want /etc/usp-agent/", keep)
	}
	init, _ := os.ReadFile(openwrtInit)
	for _, want := range []string{"USE_PROCD=1", "procd_set_param respawn", `PROG="${USP_AGENT_PROG:-/usr/sbin/usp-agent}"`, `procd_add_reload_trigger "usp-agent"`} {
		if !strings.Contains(string(init), want) {
			t.Errorf("init script lacks %q", want)
		}
	}
}
