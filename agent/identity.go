package agent

import (
	"context"
	"sync/atomic"
)

// identity is what an OnBoardRequest says of the device: its
// Device.DeviceInfo.ManufacturerOUI, ProductClass and SerialNumber. Each
// "MUST remain fixed over the lifetime of the device" (TR-181), so once
// the data model has given all three they are kept rather than read
// again, through the handlers, for every OnBoardRequest [R-NOT.5].
type identity struct {
	oui, productClass, serialNumber string
}

// identityCache holds the identity once it is complete.
type identityCache struct {
	p atomic.Pointer[identity]
}

// identity returns the device's identity: the one kept, or the values
// read now (empty where the data model has none), kept when all three
// are there.
func (a *Agent) identity(ctx context.Context) identity {
	if id := a.ident.p.Load(); id != nil {
		return *id
	}
	var id identity
	if a.eng.Model().Object("Device.DeviceInfo.") == nil {
		return id
	}
	for _, res := range a.eng.Get(ctx, agentCaller, []string{"Device.DeviceInfo.ManufacturerOUI", "Device.DeviceInfo.ProductClass", "Device.DeviceInfo.SerialNumber"}, 0) {
		for _, o := range res.Objects {
			for n, v := range o.Params {
				switch n {
				case "ManufacturerOUI":
					id.oui = v
				case "ProductClass":
					id.productClass = v
				case "SerialNumber":
					id.serialNumber = v
				}
			}
		}
	}
	if id.oui != "" && id.productClass != "" && id.serialNumber != "" {
		a.ident.p.Store(&id)
	}
	return id
}
