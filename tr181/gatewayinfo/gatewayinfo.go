package gatewayinfo

import (
	"context"
	"sync"

	"github.com/uspkit/uspkit/datamodel"
	"github.com/uspkit/uspkit/schema"
	"github.com/uspkit/uspkit/usperr"
)

// Define adds Device.GatewayInfo to m, as TR-181 2.16 defines it.
func Define(m *schema.Model) {
	m.Define("Device.GatewayInfo.").
		Param("ManagementProtocol", schema.String(schema.Enum("", "CWMP", "USP", "Unknown"))).
		Param("EndpointID", schema.String()).
		Param("MACAddress", schema.String(schema.Named("MACAddress"), schema.MaxLen(17),
			schema.Pattern(`^$`), schema.Pattern(`([0-9A-Fa-f][0-9A-Fa-f]:){5}([0-9A-Fa-f][0-9A-Fa-f])`))).
		Param("ManufacturerOUI", schema.String(schema.MaxLen(6))).
		Param("ProductClass", schema.String(schema.MaxLen(64))).
		Param("SerialNumber", schema.String(schema.MaxLen(64)))
}

// Values are the Gateway's parameters; every one is "" when unknown.
type Values struct {
	// ManagementProtocol is "CWMP" when the Gateway's identity came in
	// the DHCP options [R-DIS.2c], "USP" when an mDNS advertisement from
	// the same address also named its Endpoint ID [R-DIS.2d].
	ManagementProtocol string
	EndpointID         string
	MACAddress         string
	ManufacturerOUI    string
	ProductClass       string
	SerialNumber       string
}

// Info holds the current Values; its methods are safe for concurrent use.
// The zero Info is ready, with every value "".
type Info struct {
	mu sync.Mutex
	v  Values
}

// Set replaces the values; the zero Values clear them (the lease expired or
// said nothing of a Gateway) [R-DIS.2c].
func (i *Info) Set(v Values) {
	i.mu.Lock()
	i.v = v
	i.mu.Unlock()
}

// Get returns the current values.
func (i *Info) Get() Values {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.v
}

// Register serves Device.GatewayInfo on mux from info.
func Register(mux *datamodel.Mux, info *Info) {
	mux.Handle("Device.GatewayInfo.", datamodel.HandlerFunc(func(ctx context.Context, w datamodel.ResponseWriter, r *datamodel.Request) error {
		if r.Op != datamodel.OpGet {
			return usperr.Errorf(usperr.CodeRequestDenied, "%s is read-only", r.Path)
		}
		v := info.Get()
		vals := map[string]string{"ManagementProtocol": v.ManagementProtocol, "EndpointID": v.EndpointID, "MACAddress": v.MACAddress,
			"ManufacturerOUI": v.ManufacturerOUI, "ProductClass": v.ProductClass, "SerialNumber": v.SerialNumber}
		for _, n := range r.Names {
			w.SetValue(n, vals[n])
		}
		return nil
	}))
}
