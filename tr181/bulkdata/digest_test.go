package bulkdata_test

import (
	"crypto/md5"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestHTTPDigest: a collector that asks for Digest (RFC 7616, MD5 with
// qop auth) gets the report with a valid answer; the Agent asks for the
// challenge again for the next report, without sending Basic.
func TestHTTPDigest(t *testing.T) {
	e := newEnv(t, nil)
	const realm, nonce = "bulk", "n0nce"
	var mu sync.Mutex
	var ok, basic int
	h := func(s string) string { x := md5.Sum([]byte(s)); return hex.EncodeToString(x[:]) }
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth := r.Header.Get("Authorization")
		mu.Lock()
		defer mu.Unlock()
		if strings.HasPrefix(auth, "Basic ") {
			basic++
		}
		f := map[string]string{}
		if rest, found := strings.CutPrefix(auth, "Digest "); found {
			for kv := range strings.SplitSeq(rest, ", ") {
				k, v, _ := strings.Cut(kv, "=")
				f[k] = strings.Trim(v, `"`)
			}
		}
		want := h(h("u:"+realm+":pw") + ":" + nonce + ":" + f["nc"] + ":" + f["cnonce"] + ":auth:" + h(r.Method+":"+r.URL.RequestURI()))
		if f["username"] != "u" || f["uri"] != r.URL.RequestURI() || f["response"] != want {
			w.Header().Set("WWW-Authenticate", `Digest realm="`+realm+`", qop="auth", nonce="`+nonce+`", algorithm=MD5`)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		ok++
	}))
	defer srv.Close()
	p := e.add(t, "Device.BulkData.Profile.", "Protocol", "HTTP", "EncodingType", "JSON", "ReportingInterval", "1",
		"HTTP.URL", srv.URL+"/bd", "HTTP.Username", "u", "HTTP.Password", "pw")
	e.add(t, p+"Parameter.", "Reference", "Device.DeviceInfo.UpTime")
	e.set(t, p, "Enable", "true")
	deadline := time.Now().Add(4 * time.Second)
	for time.Now().Before(deadline) {
		mu.Lock()
		n := ok
		mu.Unlock()
		if n >= 2 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	if ok < 2 || basic != 1 {
		t.Errorf("%d reports accepted with Digest, Basic sent %d times (want at least 2 and 1, the first attempt)", ok, basic)
	}
	if sent, failed := e.svc.Stats(); failed != 0 || sent < 2 {
		t.Errorf("sent %d failed %d", sent, failed)
	}
}
