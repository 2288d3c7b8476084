// Package gatewayinfo serves Device.GatewayInfo: the identity of the
// Gateway this device reached through DHCP (TR-369 "Use of DHCP for
// Exchanging GatewayInfo"), which a Controller uses to tell whether the
// Gateway and the device are on the same LAN.
//
// The values are handed in by whoever reads the DHCP exchange (usp agent
// reads the host DHCP client's lease):
//
//	m := schema.New()
//	gatewayinfo.Define(m)
//	mux := datamodel.NewMux(m)
//	gw := &gatewayinfo.Info{}
//	gatewayinfo.Register(mux, gw)
//	gw.Set(gatewayinfo.Values{ManufacturerOUI: "00D09E", SerialNumber: "GW1", ProductClass: "Gateway"})
package gatewayinfo
