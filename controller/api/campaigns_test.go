package api_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/uspkit/uspkit/controller"
	"github.com/uspkit/uspkit/controller/api"
	"github.com/uspkit/uspkit/controller/filestore"
	"github.com/uspkit/uspkit/mtp"
	"github.com/uspkit/uspkit/mtp/ws"
	"github.com/uspkit/uspkit/sim"
)

// fleetRig runs a Controller with a WebSocket server, n simulated
// firmware-capable Agents that really fetch what Download() names, and
// the API with a file store.
func fleetRig(t *testing.T, n int) (*httptest.Server, *sim.Fleet, *controller.Controller) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var c *controller.Controller
	srv, err := ws.Listen(ctx, "127.0.0.1:0", &ws.Options{EndpointID: ctrlID, MaxConnsPerSource: -1, OnState: func(ctx context.Context, p mtp.Peer, s mtp.State, err error) {
		if c != nil {
			c.OnState("WebSocket")(ctx, p, s, err)
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	c, err = controller.New(ctx, controller.Options{EndpointID: ctrlID, Admission: controller.AdmitAll, RequestTimeout: 5 * time.Second,
		MTPs: []controller.MTP{{Protocol: "WebSocket", Transport: srv, Identity: controller.IdentityClaimed}}})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { c.Run(ctx); close(done) }()
	files, err := filestore.Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(api.New(api.Options{Controller: c, Files: files,
		Tokens: api.NewTokens(map[string]api.Role{admin: api.Admin, oper: api.Operator, viewer: api.Viewer})}))
	url := "ws://" + srv.Addr().String() + "/usp"
	fetcher := &http.Client{Transport: &http.Transport{}}
	f, err := sim.Start(ctx, sim.Options{N: n, Controller: ctrlID, ControllerAddr: ctrlID, Firmware: &sim.Firmware{Version: "1", NewVersion: "2", Fetch: true, Client: fetcher},
		Dial: func(id string, onState mtp.StateFunc) mtp.Transport {
			return ws.NewClient(&ws.Options{URL: url, EndpointID: id, OnState: onState, MinWait: 50 * time.Millisecond})
		}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		f.Close()
		fetcher.CloseIdleConnections()
		http.DefaultClient.CloseIdleConnections()
		hs.Close()
		cancel()
		<-done
	})
	for range 500 {
		if c.Stats().Online == n {
			return hs, f, c
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("%d of %d agents online", c.Stats().Online, n)
	return nil, nil, nil
}

// The file store serves an uploaded image at an unguessable URL, without
// a token, and a campaign naming the file hands its URL, size and SHA-256
// to every Agent, which fetch it and check it; starting the campaign needs
// the admin role (the path policy covers Device.DeviceInfo.FirmwareImage.),
// reading it the viewer role; its per-agent results come back, the
// password hidden.
func TestCampaignAPI(t *testing.T) {
	const n = 5
	srv, f, _ := fleetRig(t, n)
	image := bytes.Repeat([]byte("firmware image "), 10000)
	sum := sha256.Sum256(image)

	code, b := call(t, srv, viewer, "POST", "/api/v1/files?name=fw-2.bin", string(image))
	if code != http.StatusForbidden {
		t.Fatalf("viewer upload: %d %s", code, b)
	}
	code, b = call(t, srv, oper, "POST", "/api/v1/files?name=../fw.bin", "x")
	if code != http.StatusBadRequest {
		t.Fatalf("bad name: %d %s", code, b)
	}
	code, b = call(t, srv, oper, "POST", "/api/v1/files?name=fw-2.bin", string(image))
	if code != http.StatusCreated {
		t.Fatalf("upload: %d %s", code, b)
	}
	var file struct {
		ID, SHA256, URL string
		Size            int64
	}
	json.Unmarshal(b, &file)
	if file.SHA256 != hex.EncodeToString(sum[:]) || file.Size != int64(len(image)) || !strings.HasPrefix(file.URL, srv.URL+"/files/") {
		t.Fatalf("file %+v", file)
	}
	resp, err := http.Get(file.URL)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !bytes.Equal(got, image) {
		t.Fatalf("GET %s: %d, %d bytes", file.URL, resp.StatusCode, len(got))
	}
	if code := status(t, strings.Replace(file.URL, "/files/", "/files/0", 1)); code != http.StatusNotFound {
		t.Fatalf("wrong token: %d", code)
	}

	var ids []string
	for i := range n {
		ids = append(ids, fmt.Sprintf("%q", f.ID(i)))
	}
	body := fmt.Sprintf(`{"kind":"firmware","file":%q,"agents":[%s],"activate":true,"version":"2","password":"secret","username":"u",
		"rollout":{"canary":1,"wave":2,"concurrency":2,"max_failure_rate":0.5,"timeout":"1m"}}`, file.ID, strings.Join(ids, ","))
	if code, b := call(t, srv, oper, "POST", "/api/v1/campaigns", body); code != http.StatusForbidden {
		t.Fatalf("operator started a firmware campaign: %d %s", code, b)
	}
	if code, b := call(t, srv, admin, "POST", "/api/v1/campaigns", `{"kind":"firmware","url":"http://x/","agents":[],"bogus":1}`); code != http.StatusBadRequest {
		t.Fatalf("bad body: %d %s", code, b)
	}
	code, b = call(t, srv, admin, "POST", "/api/v1/campaigns", body)
	if code != http.StatusCreated {
		t.Fatalf("create: %d %s", code, b)
	}
	var x controller.Campaign
	json.Unmarshal(b, &x)
	if x.Spec.URL != file.URL || x.Spec.CheckSum != file.SHA256 || x.Spec.FileSize != uint64(len(image)) || x.Spec.Password == "secret" {
		t.Fatalf("campaign spec %+v", x.Spec)
	}
	deadline := time.Now().Add(30 * time.Second)
	for x.State != controller.CampaignCompleted {
		if time.Now().After(deadline) {
			t.Fatalf("campaign %s %+v", x.State, x.Counts)
		}
		time.Sleep(20 * time.Millisecond)
		code, b = call(t, srv, viewer, "GET", "/api/v1/campaigns/"+x.ID, "")
		if code != 200 {
			t.Fatalf("get: %d %s", code, b)
		}
		x = controller.Campaign{}
		json.Unmarshal(b, &x)
	}
	if x.Counts.Succeeded != n || len(x.Targets) != n || x.Spec.Password == "secret" {
		t.Fatalf("campaign %+v", x)
	}
	for i, tg := range x.Targets {
		if tg.ToVersion != "2" || f.Version(i) != "2" {
			t.Errorf("%s: %+v", tg.Agent, tg)
		}
	}
	for _, tc := range []struct {
		path string
		want int
	}{{"/api/v1/campaigns/" + x.ID + "/pause", http.StatusConflict}, {"/api/v1/campaigns/" + x.ID + "/resume", http.StatusConflict},
		{"/api/v1/campaigns/nope/abort", http.StatusNotFound}} {
		if code, b := call(t, srv, admin, "POST", tc.path, ""); code != tc.want {
			t.Errorf("%s: %d %s, want %d", tc.path, code, b, tc.want)
		}
	}
	code, b = call(t, srv, viewer, "GET", "/api/v1/campaigns", "")
	if code != 200 || !bytes.Contains(b, []byte(x.ID)) || bytes.Contains(b, []byte("secret")) {
		t.Fatalf("list: %d %s", code, b)
	}
	if code, _ := call(t, srv, admin, "DELETE", "/api/v1/campaigns/"+x.ID, ""); code != http.StatusNoContent {
		t.Fatalf("delete campaign: %d", code)
	}
	if code, _ := call(t, srv, viewer, "GET", "/api/v1/campaigns/"+x.ID, ""); code != http.StatusNotFound {
		t.Fatalf("deleted campaign: %d", code)
	}
	if code, _ := call(t, srv, oper, "DELETE", "/api/v1/files/"+file.ID, ""); code != http.StatusNoContent {
		t.Fatalf("delete: %d", code)
	}
	if code := status(t, file.URL); code != http.StatusNotFound {
		t.Fatalf("deleted file: %d", code)
	}
}

// A Download() whose image does not match its checksum fails on the
// Agent, and the campaign says why; with max_failure_rate -1 the first
// failure pauses it.
func TestCampaignAPIChecksumFailure(t *testing.T) {
	srv, f, _ := fleetRig(t, 2)
	code, b := call(t, srv, oper, "POST", "/api/v1/files?name=fw.bin", "image")
	if code != http.StatusCreated {
		t.Fatalf("upload: %d %s", code, b)
	}
	var file struct{ URL string }
	json.Unmarshal(b, &file)
	body := fmt.Sprintf(`{"kind":"firmware","url":%q,"checksum_algorithm":"SHA-256","checksum":%q,"agents":[%q,%q],"rollout":{"concurrency":1,"max_failure_rate":-1}}`,
		file.URL, strings.Repeat("0", 64), f.ID(0), f.ID(1))
	code, b = call(t, srv, admin, "POST", "/api/v1/campaigns", body)
	if code != http.StatusCreated {
		t.Fatalf("create: %d %s", code, b)
	}
	var x controller.Campaign
	json.Unmarshal(b, &x)
	deadline := time.Now().Add(20 * time.Second)
	for x.State != controller.CampaignPaused {
		if time.Now().After(deadline) {
			t.Fatalf("campaign %s %+v", x.State, x.Counts)
		}
		time.Sleep(20 * time.Millisecond)
		_, b = call(t, srv, viewer, "GET", "/api/v1/campaigns/"+x.ID, "")
		json.Unmarshal(b, &x)
	}
	if x.Counts.Failed != 1 || x.Counts.Pending != 1 || !strings.Contains(x.Targets[0].Reason, "checksum mismatch") {
		t.Fatalf("campaign %+v", x)
	}
	if code, b := call(t, srv, admin, "DELETE", "/api/v1/campaigns/"+x.ID, ""); code != http.StatusConflict {
		t.Fatalf("delete of a paused campaign: %d %s", code, b)
	}
	if code, b := call(t, srv, admin, "POST", "/api/v1/campaigns/"+x.ID+"/abort", ""); code != 200 {
		t.Fatalf("abort: %d %s", code, b)
	}
}

// status GETs url and returns the status code.
func status(t *testing.T, url string) int {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}
