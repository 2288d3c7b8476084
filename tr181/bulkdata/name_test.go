package bulkdata

import (
	"strings"
	"testing"
	"time"
)

// TestReportName follows TR-369 Annex A.2.1's examples.
func TestReportName(t *testing.T) {
	for _, tc := range []struct{ name, ref, full, want string }{
		{"", "Device.MoCA.Interface.*.Stats.BroadPktSent", "Device.MoCA.Interface.2.Stats.BroadPktSent", "Device.MoCA.Interface.2.Stats.BroadPktSent"},
		{"BroadPktSent", "Device.MoCA.Interface.1.Stats.BroadPktSent", "Device.MoCA.Interface.1.Stats.BroadPktSent", "BroadPktSent"},
		// [R-BULK.9]
		{"WiFi_AP_Assoc_BSent", "Device.WiFi.AccessPoint.*.AssociatedDevice.*.Stats.BytesSent", "Device.WiFi.AccessPoint.3.AssociatedDevice.11.Stats.BytesSent", "WiFi_AP_Assoc_BSent.3.11"},
		// [R-BULK.10]
		{"WiFi_AP1_Assoc10", "Device.WiFi.AccessPoint.1.AssociatedDevice.10.Stats.", "Device.WiFi.AccessPoint.1.AssociatedDevice.10.Stats.RetryCount", "WiFi_AP1_Assoc10.RetryCount"},
		{"WiFi_AP_Assoc", "Device.WiFi.AccessPoint.*.AssociatedDevice.*.Stats.", "Device.WiFi.AccessPoint.1.AssociatedDevice.10.Stats.BytesSent", "WiFi_AP_Assoc.1.10.BytesSent"},
		{"X", "Device.A.", "Device.A.B.1.C", "X.B.1.C"},
	} {
		if got := reportName(tc.name, tc.ref, tc.full); got != tc.want {
			t.Errorf("reportName(%q, %q, %q) = %q, want %q", tc.name, tc.ref, tc.full, got, tc.want)
		}
	}
}

// TestRetryWait checks the wait ranges of TR-369 Annex A.1.2's table
// with the default m = 5 and k = 2000, and the fixed range from the
// tenth retry on [R-BULK.3].
func TestRetryWait(t *testing.T) {
	for _, tc := range []struct {
		n      int
		lo, hi time.Duration
	}{
		{1, 5 * time.Second, 10 * time.Second},
		{2, 10 * time.Second, 20 * time.Second},
		{4, 40 * time.Second, 80 * time.Second},
		{10, 2560 * time.Second, 5120 * time.Second},
		{15, 2560 * time.Second, 5120 * time.Second},
	} {
		if got := retryWait(tc.n, 5, 2000, 0); got != tc.lo {
			t.Errorf("retry %d: shortest wait %v, want %v", tc.n, got, tc.lo)
		}
		if got := retryWait(tc.n, 5, 2000, 0.999999); got > tc.hi || got < tc.hi-time.Millisecond*10 {
			t.Errorf("retry %d: longest wait %v, want %v", tc.n, got, tc.hi)
		}
	}
	if got := retryWait(3, 1, 1000, 0.5); got != time.Second {
		t.Errorf("m=1 k=1000: wait %v, want 1s", got)
	}
}

func TestFirstReport(t *testing.T) {
	now := time.Date(2026, 1, 1, 10, 0, 7, 0, time.UTC)
	if got := firstReport(now, time.Minute, time.Time{}); !got.Equal(now.Add(time.Minute)) {
		t.Errorf("no reference: %v", got)
	}
	ref := time.Date(2020, 1, 1, 0, 0, 30, 0, time.UTC)
	if got, want := firstReport(now, time.Minute, ref), time.Date(2026, 1, 1, 10, 0, 30, 0, time.UTC); !got.Equal(want) {
		t.Errorf("aligned on reference: %v, want %v", got, want)
	}
	future := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	if got := firstReport(now, time.Hour, future); got.Sub(now) > time.Hour || got.Sub(now) <= 0 || future.Sub(got)%time.Hour != 0 {
		t.Errorf("future reference: %v", got)
	}
}

// TestDigest checks the Digest answer against RFC 7616 section 3.9.1's
// example, with MD5 and SHA-256.
func TestDigest(t *testing.T) {
	for alg, want := range map[string]string{"MD5": "8ca523f5e9506fed4657c9700eebdbec", "SHA-256": "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"} {
		c, ok := parseDigest(`Digest realm="http-auth@example.org", qop="auth, auth-int", algorithm=` + alg +
			`, nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"`)
		if !ok || !c.qopAuth {
			t.Fatalf("%s: challenge not parsed: %+v", alg, c)
		}
		got := c.authorization("Mufasa", "Circle of Life", "GET", "/dir/index.html", "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ")
		if !strings.Contains(got, `response="`+want+`"`) || !strings.Contains(got, `opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"`) {
			t.Errorf("%s: %s, want response %s", alg, got, want)
		}
	}
	if _, ok := parseDigest(`Basic realm="x"`); ok {
		t.Error("Basic parsed as Digest")
	}
}
