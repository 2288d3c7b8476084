package agent

import (
	"slices"
	"testing"
)

func TestValidRegPath(t *testing.T) {
	tests := []struct {
		path string
		ok   bool
	}{
		{"Device.X_VENDOR_Lamp.", true},
		{"Device.WiFi.DataElements.", true},
		{"Device.", false},                   // the root is the Broker's
		{"Device.X_VENDOR_Lamp", false},      // a parameter, not an object [R-REG.2]
		{"Device.X_VENDOR_Lamp.1.", false},   // instance number [R-REG.2]
		{"Device.X_VENDOR_Lamp.{i}.", false}, // supported-model notation [R-REG.2]
		{"Device.X_VENDOR_Lamp.*.", false},   // wildcard
		{"Device.X..Lamp.", false},           // empty name
		{"Other.X_VENDOR_Lamp.", false},      // not below Device.
		{"Device.X_VENDOR_Lamp.[On==1].", false},
		{"", false},
	}
	for _, tc := range tests {
		if got := validRegPath(tc.path); got != tc.ok {
			t.Errorf("validRegPath(%q) = %v, want %v", tc.path, got, tc.ok)
		}
	}
}

func TestOwnerOf(t *testing.T) {
	b := newBroker(nil)
	sa := &uspService{eid: "a"}
	sb := &uspService{eid: "b"}
	b.owner["Device.X_A."] = sa
	b.owner["Device.Y.X_B."] = sb
	type sp struct {
		eid, path string
		depth     int
	}
	tests := []struct {
		path  string
		owner string
		spans []sp
	}{
		{"Device.X_A.Name", "a", nil},
		{"Device.X_A.Item.1.", "a", nil},
		{"Device.X_A.Item.[Name==\"a.b\"].Value", "a", nil},
		{"Device.X_AB.Name", "", nil}, // a prefix of the name is not the object
		{"Device.", "", []sp{{"a", "Device.X_A.", 1}, {"b", "Device.Y.X_B.", 2}}},
		{"Device.Y.", "", []sp{{"b", "Device.Y.X_B.", 1}}},
		{"Device.*.Name", "", []sp{{"a", "Device.X_A.Name", 0}}},
		{"Device.*.*.Name", "", []sp{{"a", "Device.X_A.*.Name", 0}, {"b", "Device.Y.X_B.Name", 0}}},
		{"Device.*.", "", []sp{{"a", "Device.X_A.", 0}, {"b", "Device.Y.X_B.", 1}}},
		{"Device.LocalAgent.", "", nil},
		{"Device.Name", "", nil}, // a parameter of Device. covers no object
	}
	for _, tc := range tests {
		s, spans := b.ownerOf(tc.path)
		got := ""
		if s != nil {
			got = s.eid
		}
		var gs []sp
		for _, x := range spans {
			gs = append(gs, sp{x.s.eid, x.path, x.depth})
		}
		slices.SortFunc(gs, func(x, y sp) int {
			if x.eid < y.eid {
				return -1
			}
			return 1
		})
		if got != tc.owner || !slices.Equal(gs, tc.spans) {
			t.Errorf("ownerOf(%q) = %q %v, want %q %v", tc.path, got, gs, tc.owner, tc.spans)
		}
	}
}

func TestSupportedPath(t *testing.T) {
	for in, want := range map[string]string{
		"Device.X_A.Item.1.Run()":               "Device.X_A.Item.{i}.Run()",
		"Device.X_A.Item.*.Run()":               "Device.X_A.Item.{i}.Run()",
		"Device.X_A.Item.[Name==\"x.y\"].Run()": "Device.X_A.Item.{i}.Run()",
		"Device.X_A.Run()":                      "Device.X_A.Run()",
	} {
		if got := supportedPath(in); got != want {
			t.Errorf("supportedPath(%q) = %q, want %q", in, got, want)
		}
	}
}
