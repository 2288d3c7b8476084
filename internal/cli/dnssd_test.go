package cli_test

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/uspkit/uspkit/discovery"
	"github.com/uspkit/uspkit/internal/testenv"
)

// TestAgentDHCPFQDN: a lease that names the Controller by a bare FQDN
// leads `usp agent` to its DNS-SD records over unicast DNS [R-DIS.7], and
// the Agent connects to the Controller they describe (TP-469 8.3's
// metric, with a DNS server of the test's own).
func TestAgentDHCPFQDN(t *testing.T) {
	bin := buildUSP(t)
	c, srv := discWSController(t)
	_, port, _ := net.SplitHostPort(srv.Addr().String())
	server := testenv.DNSZone(t,
		fmt.Sprintf("_usp-ctr-ws._tcp.ctl.example.test. 60 IN PTR %s._usp-ctr-ws._tcp.example.test.", mtpCtrlID),
		fmt.Sprintf("%s._usp-ctr-ws._tcp.example.test. 60 IN SRV 0 1 %s host.example.test.", mtpCtrlID, port),
		fmt.Sprintf("%s._usp-ctr-ws._tcp.example.test. 60 IN TXT \"path=/usp\"", mtpCtrlID),
		"host.example.test. 60 IN A 127.0.0.1")
	v := discovery.VendorInfo{ControllerURL: "ctl.example.test", ProvisioningCode: "PROV-FQDN"}
	opt, err := v.AppendV4(nil)
	if err != nil {
		t.Fatal(err)
	}
	lease := filepath.Join(t.TempDir(), "udhcpc.env")
	if err := os.WriteFile(lease, []byte(fmt.Sprintf("interface=wan\nopt125=%x\n", opt)), 0o600); err != nil {
		t.Fatal(err)
	}
	const id = "os::012345-FQDN1"
	startAgentProcessWith(t, bin, id, "", fmt.Sprintf("discovery:\n  dhcp_lease: %s\n  dns_server: %s\n  role: Full Access\n", lease, server))
	waitAgent(t, c, id, true)
	ps := discParams(t, c, id, "Device.LocalAgent.Controller.")
	ok := false
	for k, v := range ps {
		if strings.HasSuffix(k, ".EndpointID") && v == mtpCtrlID {
			ctrl := strings.TrimSuffix(k, "EndpointID")
			ok = ps[ctrl+"ProvisioningCode"] == "PROV-FQDN" && ps[ctrl+"Alias"] == "cpe-dhcp" && ps[ctrl+"MTP.1.WebSocket.Port"] == port
		}
	}
	if !ok {
		t.Fatalf("the Controller entry from DHCP and DNS-SD: %v", ps)
	}
}
