package cli

import (
	"testing"

	"github.com/uspkit/uspkit/agent"
	"github.com/uspkit/uspkit/schema"
)

// TestSecuredParam: the Secured parameters of the Agent's model are
// reported as such whatever path was asked about before (the last
// object is kept between calls).
func TestSecuredParam(t *testing.T) {
	m := schema.New()
	agent.Define(m)
	secured := securedParam(m)
	for i, tc := range []struct {
		path, param string
		want        bool
	}{
		{"Device.MQTT.Client.1.", "Password", true},
		{"Device.MQTT.Client.1.", "Username", false},
		{"Device.MQTT.Client.1.", "Password", true},
		{"Device.LocalAgent.Subscription.3.", "ID", false},
		{"Device.LocalAgent.Subscription.3.", "Password", false},
		{"Device.MQTT.Client.2.", "Password", true},
		{"Device.MQTT.Client.2.", "NoSuchParam", false},
		{"Device.NoSuchObject.1.", "Password", false},
		{"Device.MQTT.Client.2.", "Password", true},
		{"Device.LocalAgent.", "EndpointID", false},
	} {
		if got := secured(tc.path, tc.param); got != tc.want {
			t.Errorf("%d: %s%s: %v, want %v", i, tc.path, tc.param, got, tc.want)
		}
	}
}

// BenchmarkSecuredParam asks about every parameter of a Subscription row,
// as the store does when it writes the row after a Set.
func BenchmarkSecuredParam(b *testing.B) {
	m := schema.New()
	agent.Define(m)
	secured := securedParam(m)
	o := m.Object("Device.LocalAgent.Subscription.{i}.")
	if o == nil {
		b.Fatal("no Subscription object")
	}
	var params []string
	for _, p := range o.Params {
		params = append(params, p.Name)
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		path := "Device.LocalAgent.Subscription.1."
		if i%2 == 1 {
			path = "Device.LocalAgent.Subscription.2."
		}
		for _, p := range params {
			if secured(path, p) {
				b.Fatal(p, "is not Secured")
			}
		}
	}
}
