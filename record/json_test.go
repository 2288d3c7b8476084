//go:build !usp_noproto

package record_test

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"google.golang.org/protobuf/proto"

	"github.com/uspkit/uspkit/record"
	"github.com/uspkit/uspkit/wire"
)

func TestJSONRoundTrip(t *testing.T) {
	for _, name := range goldenRecords(t) {
		t.Run(filepath.Base(name), func(t *testing.T) {
			var in record.Record
			if err := record.Decode(readFile(t, name+".bin"), &in, nil); err != nil {
				t.Fatal(err)
			}
			j, err := in.MarshalJSON()
			if err != nil {
				t.Fatal(err)
			}
			if !json.Valid(j) {
				t.Fatalf("invalid JSON: %s", j)
			}
			var out record.Record
			if err := out.UnmarshalJSON(j); err != nil {
				t.Fatalf("UnmarshalJSON(%s): %v", j, err)
			}
			// Payloads shown inline are re-encoded: compare them as Msgs.
			if in.Type == record.TypeNoSessionContext {
				var a, b wire.Msg
				if proto.Unmarshal(in.Payload, &a) != nil || proto.Unmarshal(out.Payload, &b) != nil || !proto.Equal(&a, &b) {
					t.Errorf("payload Msg changed through JSON: %s", j)
				}
				in.Payload, out.Payload = nil, nil
			}
			if diff := cmp.Diff(&in, &out, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("(-in +out):\n%s\nJSON: %s", diff, j)
			}
		})
	}
}

func TestJSONShowsMsgInline(t *testing.T) {
	r := record.NewNoSession(agentID, ctrlID, getMsg(t, "inline-1"))
	j, err := r.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	var v struct {
		Version string `json:"version"`
		ToID    string `json:"to_id"`
		NSC     struct {
			Payload struct {
				Header struct {
					MsgID   string `json:"msg_id"`
					MsgType string `json:"msg_type"`
				} `json:"header"`
			} `json:"payload"`
		} `json:"no_session_context"`
	}
	if err := json.Unmarshal(j, &v); err != nil {
		t.Fatalf("%v: %s", err, j)
	}
	if v.Version != "1.3" || v.ToID != agentID || v.NSC.Payload.Header.MsgID != "inline-1" || v.NSC.Payload.Header.MsgType != "GET" {
		t.Errorf("unexpected JSON %s", j)
	}
	if !strings.HasPrefix(string(j), `{"version":"1.3","to_id"`) {
		t.Errorf("fields not in schema order: %s", j)
	}
}

func TestJSONErrors(t *testing.T) {
	bad := record.NewNoSession(agentID, ctrlID, []byte{0xff, 0xff})
	if _, err := bad.MarshalJSON(); err == nil {
		t.Error("MarshalJSON accepted a payload that is no Msg")
	}
	for _, in := range []string{
		``, `[]`, `{"version":1}`, `{"unknown_field":"x"}`,
		`{"no_session_context":{"payload":{"header":{"msg_type":"NOPE"}}}}`,
		`{"no_session_context":{"payload":"%%%"}}`,
		`{"session_context":{"payload":[{"bogus":1}]}}`,
	} {
		var r record.Record
		if err := r.UnmarshalJSON([]byte(in)); err == nil {
			t.Errorf("UnmarshalJSON(%q) succeeded", in)
		}
	}
}
