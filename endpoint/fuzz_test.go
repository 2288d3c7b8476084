package endpoint_test

import (
	"testing"

	"github.com/uspkit/uspkit/endpoint"
)

func FuzzParse(f *testing.F) {
	for _, s := range []string{"self::x", "os::00256D-1", "ops::00256D-A-B", "uuid::f81d4fae-7dec-11d0-a765-00a0c91e6bf6",
		"imei::990000862471854", "fqdn::a.b", "oui:00256D:%41", "pen:1:x", "::", "self:::", "a%"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		id, err := endpoint.Parse(s)
		if err != nil {
			_ = err.Error()
			return
		}
		again, err := endpoint.Parse(id.String())
		if err != nil || again != id || id.String() != s {
			t.Fatalf("re-parse of %q: %+v %v", s, again, err)
		}
		if _, err := endpoint.ParseURN(id.URN()); err != nil {
			t.Fatalf("URN of %q: %v", s, err)
		}
	})
}
