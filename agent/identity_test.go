package agent_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/uspkit/uspkit/agent"
	"github.com/uspkit/uspkit/datamodel"
	"github.com/uspkit/uspkit/schema"
	"github.com/uspkit/uspkit/wire"
)

// deviceInfo serves Device.DeviceInfo.'s identity parameters and counts
// the Gets that reach it.
type deviceInfo struct {
	oui, class, serial string
	gets               atomic.Int32
}

func (d *deviceInfo) ServeUSP(ctx context.Context, w datamodel.ResponseWriter, r *datamodel.Request) error {
	if r.Op == datamodel.OpGet {
		d.gets.Add(1)
		w.SetValue("ManufacturerOUI", d.oui)
		w.SetValue("ProductClass", d.class)
		w.SetValue("SerialNumber", d.serial)
	}
	return nil
}

func withDeviceInfo(d *deviceInfo) envOption {
	return func(o *agent.Options) {
		m := schema.New()
		agent.Define(m)
		m.Define("Device.DeviceInfo.").
			Param("ManufacturerOUI", schema.String()).
			Param("ProductClass", schema.String()).
			Param("SerialNumber", schema.String())
		mux := datamodel.NewMux(m)
		mux.Handle("Device.DeviceInfo.", d)
		o.Mux = mux
	}
}

// TestOnBoardRequestIdentity: an OnBoardRequest carries the device's
// ManufacturerOUI, ProductClass and SerialNumber [R-NOT.5]. TR-181 fixes
// them for the device's lifetime, so once all three were read they are
// not read again; while one is missing, each OnBoardRequest reads them.
func TestOnBoardRequestIdentity(t *testing.T) {
	tests := []struct {
		name      string
		serial    string
		readAgain bool // by the second OnBoardRequest
	}{
		{"complete: read once", "SN42", false},
		{"no serial number: read each time", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := &deviceInfo{oui: "00D09E", class: "uspkit", serial: tt.serial}
			e := start(t, nil, withDeviceInfo(d))
			var reads [2]int32
			for i := range 2 {
				e.ctl.do(operateReq(ctrl1+"SendOnBoardRequest()", "k", true, nil))
				req := onBoardReq(t, e.ctl, 2*time.Second)
				if req.GetOui() != d.oui || req.GetProductClass() != d.class || req.GetSerialNumber() != tt.serial {
					t.Errorf("OnBoardRequest %d: oui %q product_class %q serial_number %q, want %q %q %q", i,
						req.GetOui(), req.GetProductClass(), req.GetSerialNumber(), d.oui, d.class, tt.serial)
				}
				reads[i] = d.gets.Load()
			}
			if reads[0] == 0 {
				t.Fatal("the first OnBoardRequest did not read DeviceInfo")
			}
			if again := reads[1] > reads[0]; again != tt.readAgain {
				t.Errorf("DeviceInfo handler calls %d after the first OnBoardRequest, %d after the second; read again: %v, want %v",
					reads[0], reads[1], again, tt.readAgain)
			}
		})
	}
}

// onBoardReq waits up to d for the next OnBoardRequest notification.
func onBoardReq(t *testing.T, c *ctl, d time.Duration) *wire.Notify_OnBoardRequest {
	t.Helper()
	deadline := time.Now().Add(d)
	for left := time.Until(deadline); left > 0; left = time.Until(deadline) {
		m := c.notification(left)
		if m == nil {
			break
		}
		if r := m.GetBody().GetRequest().GetNotify().GetOnBoardReq(); r != nil {
			return r
		}
	}
	t.Fatal("no OnBoardRequest")
	return nil
}
