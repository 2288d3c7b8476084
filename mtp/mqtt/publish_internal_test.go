package mqtt

import "testing"

// TestConnackMaximumQoSRetain: the CONNACK's Maximum QoS and Retain
// Available = 0 are kept, so that Publish stays under the one and clears
// RETAIN after the other (TR-181 Device.BulkData.Profile.{i}.MQTT.PublishQoS
// and PublishRetain); without them QoS 2 and RETAIN are allowed.
func TestConnackMaximumQoSRetain(t *testing.T) {
	for _, tc := range []struct {
		name     string
		body     []byte
		maxQoS   byte
		noRetain bool
	}{
		{"none", []byte{0, 0, 0}, 2, false},
		{"qos1-noretain", []byte{0, 0, 4, propMaximumQoS, 1, propRetainAvailable, 0}, 1, true},
		{"qos0-retain", []byte{0, 0, 4, propMaximumQoS, 0, propRetainAvailable, 1}, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := parseConnack(true, tc.body)
			if err != nil {
				t.Fatal(err)
			}
			if c.maxQoS != tc.maxQoS || c.noRetain != tc.noRetain {
				t.Errorf("Maximum QoS %d, no retain %v; want %d, %v", c.maxQoS, c.noRetain, tc.maxQoS, tc.noRetain)
			}
		})
	}
	if c, err := parseConnack(false, []byte{0, 0}); err != nil || c.maxQoS != 2 || c.noRetain {
		t.Errorf("MQTT 3.1.1: %+v %v, want Maximum QoS 2 and RETAIN allowed", c, err)
	}
}

// TestAppendPublishRetain: the RETAIN flag is bit 0 of the fixed header.
func TestAppendPublishRetain(t *testing.T) {
	for _, retain := range []bool{false, true} {
		b := appendPublish(nil, true, &publishOut{topic: "a", qos: 1, id: 1, retain: retain, payload: []byte("x")})
		if got := b[0]&1 == 1; got != retain || b[0]>>1&3 != 1 {
			t.Errorf("retain %v: header %08b", retain, b[0])
		}
	}
}
