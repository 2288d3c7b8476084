package cli_test

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/uspkit/uspkit/mtp"
	"github.com/uspkit/uspkit/mtp/ws"
	"github.com/uspkit/uspkit/record"
)

// wsAgent connects to url as Endpoint id (with Basic credentials if pass
// is set), sends a WebSocketConnect record and stays until the test ends.
func wsAgent(t *testing.T, url, ctrl, id, pass string) {
	t.Helper()
	o := &ws.Options{URL: url, EndpointID: id, MinWait: time.Hour}
	if pass != "" {
		o.Username, o.Password = id, pass
	}
	c := ws.NewClient(o)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Serve(ctx, mtp.HandlerFunc(func(context.Context, mtp.Inbound) {})) }()
	t.Cleanup(func() { cancel(); c.Close(); <-done })
	b, _ := record.NewWebSocketConnect(ctrl, id).MarshalBinary()
	c.Send(ctx, "", b)
}

// agentState reads one agent from the API of `usp up` in data; known is
// false when the controller does not know it.
func agentState(t *testing.T, api, data, id string) (online, verified bool, known bool) {
	t.Helper()
	tok, err := os.ReadFile(filepath.Join(data, "admin.token"))
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("GET", api+"/api/v1/agents/"+id, nil)
	req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(tok)))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var a struct {
		Online   bool `json:"online"`
		Verified bool `json:"verified"`
	}
	if resp.StatusCode != 200 || json.NewDecoder(resp.Body).Decode(&a) != nil {
		return false, false, false
	}
	return a.Online, a.Verified, true
}

// `usp up` takes an agent on its WebSocket MTP only with a credential: the
// password of its account (usp agents add), not a bare Endpoint ID; with
// --lab the bare Endpoint ID is enough.
func TestUpWebSocketNeedsCredential(t *testing.T) {
	bin := buildUSP(t)
	const ctrl = "proto::uspkit-controller"
	t.Run("default", func(t *testing.T) {
		data := t.TempDir()
		lines, _ := upProcess(t, bin, data)
		api, wsURL := lines["api"], strings.Fields(lines["websocket"])[0]
		const withPass, bare = "os::012345-WSPASS", "os::012345-WSBARE"
		out, errs, code := uspRun(t, bin, data, "agents", "add", withPass)
		if code != 0 {
			t.Fatalf("agents add: %s %s", out, errs)
		}
		var pass string
		for _, l := range strings.Split(out, "\n") {
			if v, ok := strings.CutPrefix(l, "password "); ok {
				pass = v
			}
		}
		wsAgent(t, wsURL, ctrl, withPass, pass)
		wsAgent(t, wsURL, ctrl, bare, "")
		deadline := time.Now().Add(10 * time.Second)
		for {
			online, verified, _ := agentState(t, api, data, withPass)
			if online && verified {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("the agent with its account password is not online and verified")
			}
			time.Sleep(50 * time.Millisecond)
		}
		time.Sleep(300 * time.Millisecond) // the bare agent's records have arrived by now
		if _, _, known := agentState(t, api, data, bare); known {
			t.Fatal("an agent without a credential was registered")
		}
	})
	t.Run("lab", func(t *testing.T) {
		data := t.TempDir()
		lines, _ := upProcess(t, bin, data, "--lab")
		api, wsURL := lines["api"], strings.Fields(lines["websocket"])[0]
		const bare = "os::012345-WSLAB"
		wsAgent(t, wsURL, ctrl, bare, "")
		deadline := time.Now().Add(10 * time.Second)
		for {
			online, verified, _ := agentState(t, api, data, bare)
			if online && !verified {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("--lab: the agent without a credential is not online")
			}
			time.Sleep(50 * time.Millisecond)
		}
	})
}
