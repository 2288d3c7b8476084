package discovery

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
)

// EnterpriseBBF is the Broadband Forum's IANA enterprise number, under which
// the USP options are encapsulated [R-DIS.1].
const EnterpriseBBF = 3561

// DHCP options that carry the BBF vendor information.
const (
	// OptionV4VendorClass is DHCPv4's V-I Vendor Class option (RFC 3925).
	OptionV4VendorClass = 124
	// OptionV4VendorInfo is DHCPv4's V-I Vendor-Specific Information option.
	OptionV4VendorInfo = 125
	// OptionV6VendorClass is DHCPv6's Vendor Class option (RFC 8415).
	OptionV6VendorClass = 16
	// OptionV6VendorInfo is DHCPv6's Vendor-specific Information option.
	OptionV6VendorInfo = 17
)

// Encapsulated option codes of TR-369's "DHCP Options for Controller
// Discovery" and of the Device-Gateway association (TR-369 "Use of DHCP
// for Exchanging GatewayInfo"): the same codes in DHCPv4 and DHCPv6 for the
// Controller, ten more in DHCPv6 for the device information.
const (
	codeControllerURL    = 25
	codeProvisioningCode = 26
	codeRetryMinWait     = 27
	codeRetryMultiplier  = 28
	codeEndpointID       = 29
	codeGatewayOUI       = 4
	codeGatewaySerial    = 5
	codeGatewayClass     = 6
	codeDeviceOUI        = 1
	codeDeviceSerial     = 2
	codeDeviceClass      = 3
	v6DeviceInfoOffset   = 10
)

// VendorInfo is what a DHCP server said under the BBF enterprise number.
// Every value is a string, never decoded as a number [R-DIS.1a], with a
// terminating NUL removed [R-DIS.1c]; "" means absent.
type VendorInfo struct {
	// ControllerURL is the URL or FQDN of the Controller (code 25),
	// taken as absolute [R-DIS.1b].
	ControllerURL string
	// ProvisioningCode is for Device.LocalAgent.Controller.{i}.ProvisioningCode (26).
	ProvisioningCode string
	// RetryMinimumWaitInterval is for
	// Device.LocalAgent.Controller.{i}.USPNotifRetryMinimumWaitInterval (27).
	RetryMinimumWaitInterval string
	// RetryIntervalMultiplier is for
	// Device.LocalAgent.Controller.{i}.USPNotifRetryIntervalMultiplier (28).
	RetryIntervalMultiplier string
	// EndpointID is the Controller's Endpoint ID (29).
	EndpointID string
	// Gateway is the Gateway's identity for Device.GatewayInfo (codes 4-6
	// in DHCPv4, 14-16 in DHCPv6) [R-DIS.2c].
	Gateway DeviceInfo
}

// DeviceInfo identifies a device in the Device-Gateway association.
type DeviceInfo struct {
	ManufacturerOUI string
	SerialNumber    string
	ProductClass    string
}

// IsZero says whether no field is set.
func (d DeviceInfo) IsZero() bool { return d == DeviceInfo{} }

// IsZero says whether the server sent nothing under the BBF number.
func (v *VendorInfo) IsZero() bool { return *v == VendorInfo{} }

// errShort is a length that runs past the end of the option.
var errShort = errors.New("truncated")

// ParseV4 decodes the data of a DHCPv4 option 125 (RFC 3925 section 4:
// enterprise-number, data-len, then code/length/value sub-options) and
// keeps the BBF enterprise's. Other enterprises are skipped. Malformed
// data gives an error and what was read before it.
func ParseV4(data []byte) (VendorInfo, error) {
	var v VendorInfo
	for len(data) > 0 {
		if len(data) < 5 {
			return v, fmt.Errorf("dhcpv4 option 125: enterprise header: %w", errShort)
		}
		ent, n := binary.BigEndian.Uint32(data), int(data[4])
		data = data[5:]
		if n > len(data) {
			return v, fmt.Errorf("dhcpv4 option 125: enterprise %d data: %w", ent, errShort)
		}
		sub := data[:n]
		data = data[n:]
		if ent != EnterpriseBBF {
			continue
		}
		for len(sub) > 0 {
			if len(sub) < 2 || int(sub[1]) > len(sub)-2 {
				return v, fmt.Errorf("dhcpv4 option 125: sub-option: %w", errShort)
			}
			v.set(int(sub[0]), sub[2:2+int(sub[1])], false)
			sub = sub[2+int(sub[1]):]
		}
	}
	return v, nil
}

// ParseV6 decodes the data of a DHCPv6 option 17 (RFC 8415 section 21.17:
// enterprise-number, then code/length/value options of 16 bits each).
// Data for another enterprise gives an empty VendorInfo.
func ParseV6(data []byte) (VendorInfo, error) {
	var v VendorInfo
	if len(data) < 4 {
		return v, fmt.Errorf("dhcpv6 option 17: enterprise-number: %w", errShort)
	}
	if binary.BigEndian.Uint32(data) != EnterpriseBBF {
		return v, nil
	}
	data = data[4:]
	for len(data) > 0 {
		if len(data) < 4 {
			return v, fmt.Errorf("dhcpv6 option 17: option header: %w", errShort)
		}
		code, n := int(binary.BigEndian.Uint16(data)), int(binary.BigEndian.Uint16(data[2:]))
		if n > len(data)-4 {
			return v, fmt.Errorf("dhcpv6 option 17: option %d: %w", code, errShort)
		}
		v.set(code, data[4:4+n], true)
		data = data[4+n:]
	}
	return v, nil
}

func (v *VendorInfo) set(code int, val []byte, v6 bool) {
	// [R-DIS.1c] a terminating NUL is not part of the value.
	s := strings.TrimRight(string(val), "\x00")
	if v6 && code >= codeGatewayOUI+v6DeviceInfoOffset && code <= codeGatewayClass+v6DeviceInfoOffset {
		code -= v6DeviceInfoOffset
	} else if v6 && code >= codeGatewayOUI && code <= codeGatewayClass {
		return
	}
	switch code {
	case codeControllerURL:
		v.ControllerURL = s
	case codeProvisioningCode:
		v.ProvisioningCode = s
	case codeRetryMinWait:
		v.RetryMinimumWaitInterval = s
	case codeRetryMultiplier:
		v.RetryIntervalMultiplier = s
	case codeEndpointID:
		v.EndpointID = s
	case codeGatewayOUI:
		v.Gateway.ManufacturerOUI = s
	case codeGatewaySerial:
		v.Gateway.SerialNumber = s
	case codeGatewayClass:
		v.Gateway.ProductClass = s
	}
}

// AppendV4 appends the data of a DHCPv4 option 125 with v's fields under
// the BBF number, as a DHCP server (or a test) would send them. It fails
// when the sub-options exceed the 255 bytes of one enterprise block.
func (v *VendorInfo) AppendV4(dst []byte) ([]byte, error) {
	var sub []byte
	for _, f := range v.fields() {
		if len(f.val) > 255 {
			return dst, fmt.Errorf("dhcpv4 option 125: sub-option %d is longer than 255 bytes", f.code)
		}
		sub = append(sub, byte(f.code), byte(len(f.val)))
		sub = append(sub, f.val...)
	}
	if len(sub) > 255 {
		return dst, errors.New("dhcpv4 option 125: more than 255 bytes for one enterprise")
	}
	dst = binary.BigEndian.AppendUint32(dst, EnterpriseBBF)
	dst = append(dst, byte(len(sub)))
	return append(dst, sub...), nil
}

// AppendV6 appends the data of a DHCPv6 option 17 with v's fields.
func (v *VendorInfo) AppendV6(dst []byte) []byte {
	dst = binary.BigEndian.AppendUint32(dst, EnterpriseBBF)
	for _, f := range v.fields() {
		code := f.code
		if code <= codeGatewayClass {
			code += v6DeviceInfoOffset
		}
		dst = binary.BigEndian.AppendUint16(dst, uint16(code))
		dst = binary.BigEndian.AppendUint16(dst, uint16(min(len(f.val), 0xffff)))
		dst = append(dst, f.val[:min(len(f.val), 0xffff)]...)
	}
	return dst
}

type field struct {
	code int
	val  string
}

func (v *VendorInfo) fields() []field {
	all := []field{{codeGatewayOUI, v.Gateway.ManufacturerOUI}, {codeGatewaySerial, v.Gateway.SerialNumber},
		{codeGatewayClass, v.Gateway.ProductClass}, {codeControllerURL, v.ControllerURL}, {codeProvisioningCode, v.ProvisioningCode},
		{codeRetryMinWait, v.RetryMinimumWaitInterval}, {codeRetryMultiplier, v.RetryIntervalMultiplier}, {codeEndpointID, v.EndpointID}}
	var out []field
	for _, f := range all {
		if f.val != "" {
			out = append(out, f)
		}
	}
	return out
}

// VendorClassV4 is the data of the DHCPv4 option 124 an Agent that wants
// Controller information sends: the BBF number and "usp" [R-DIS.1].
func VendorClassV4() []byte {
	b := binary.BigEndian.AppendUint32(nil, EnterpriseBBF)
	return append(b, 4, 3, 'u', 's', 'p')
}

// VendorClassV6 is the data of the DHCPv6 option 16 with the BBF number and
// "usp" [R-DIS.1].
func VendorClassV6() []byte {
	b := binary.BigEndian.AppendUint32(nil, EnterpriseBBF)
	return append(b, 0, 3, 'u', 's', 'p')
}

// DeviceInfoV4 is the data of the DHCPv4 option 125 an Agent sends with its
// requests: codes 1 to 3 under the BBF number [R-DIS.2a].
func DeviceInfoV4(d DeviceInfo) []byte {
	var sub []byte
	for i, s := range []string{d.ManufacturerOUI, d.SerialNumber, d.ProductClass} {
		s = s[:min(len(s), 64)]
		sub = append(sub, byte(codeDeviceOUI+i), byte(len(s)))
		sub = append(sub, s...)
	}
	b := binary.BigEndian.AppendUint32(nil, EnterpriseBBF)
	b = append(b, byte(len(sub)))
	return append(b, sub...)
}
