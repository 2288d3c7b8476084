//go:build !usp_nodiscovery

package cli

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"

	"github.com/uspkit/uspkit/discovery"
	"github.com/uspkit/uspkit/tr181/deviceinfo"
)

// runAgentDHCPOptions is `usp agent dhcp-options --config FILE`: the
// arguments that make the platform's DHCP client (busybox udhcpc, as on
// OpenWrt) send what an Agent configured for DHCP discovery sends and ask
// for what it reads. The Agent runs no DHCP client of its own; it reads
// the client's lease (discovery.dhcp_lease).
func runAgentDHCPOptions(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "agent dhcp-options", "")
	config := fs.String("config", "", "the agent's configuration `file` (YAML)")
	client := fs.String("client", "udhcpc", "the DHCP client: udhcpc (busybox, OpenWrt)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *config == "" {
		return fmt.Errorf("%w: --config is required", errUsage)
	}
	if *client != "udhcpc" {
		return fmt.Errorf("%w: --client %q is not udhcpc", errUsage, *client)
	}
	b, err := os.ReadFile(*config)
	if err != nil {
		return err
	}
	cfg, err := loadAgentConfig(bytes.NewReader(b))
	if err != nil {
		return fmt.Errorf("%s: %w", *config, err)
	}
	if cfg.Discovery == nil || cfg.Discovery.DHCPLease == "" {
		// Not configured to request Controller information: nothing to add.
		fmt.Fprintln(e.stderr, "agent dhcp-options: discovery.dhcp_lease is not set; the DHCP client needs no USP options")
		return nil
	}
	info := cfg.Platform.identity(ctx, deviceinfo.Host("uspkit", buildVersion()), slog.New(slog.DiscardHandler))
	fmt.Fprintln(e.stdout, strings.Join(udhcpcArgs(discovery.DeviceInfo{ManufacturerOUI: info.ManufacturerOUI,
		SerialNumber: info.SerialNumber, ProductClass: info.ProductClass}), " "))
	return nil
}

// udhcpcArgs are busybox udhcpc's arguments for DHCP discovery: send the
// V-I Vendor Class option 124 with the BBF enterprise number and "usp"
// [R-DIS.1] and the device's identity in option 125 (codes 1-3)
// [R-DIS.2a], and ask for option 125 (the Controller, R-DIS.1a-c; the
// Gateway, R-DIS.2c), which the udhcpc script gets as opt125.
func udhcpcArgs(dev discovery.DeviceInfo) []string {
	return []string{
		fmt.Sprintf("-x 0x%02x:%x", discovery.OptionV4VendorClass, discovery.VendorClassV4()),
		fmt.Sprintf("-x 0x%02x:%x", discovery.OptionV4VendorInfo, discovery.DeviceInfoV4(dev)),
		fmt.Sprintf("-O %d", discovery.OptionV4VendorInfo),
	}
}
