package telemetry_test

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/uspkit/uspkit/telemetry"
)

// TestParse reads the report formats of TR-369 Annex A.2.4 and A.2.5 as
// the Agent writes them.
func TestParse(t *testing.T) {
	t0 := time.Unix(1364529149, 0).UTC()
	for _, tc := range []struct {
		name, ctype, body string
		want              []telemetry.Report
	}{
		{"JSON ObjectHierarchy", "application/json; charset=UTF-8",
			`{"Report":[{"CollectionTime":1364529149,"Device":{"MoCA":{"Interface":{"1":{"Stats":{"BytesSent":25248,"Up":true}}}}}}]}`,
			[]telemetry.Report{{Time: t0, Values: []telemetry.Value{{"Device.MoCA.Interface.1.Stats.BytesSent", "25248"}, {"Device.MoCA.Interface.1.Stats.Up", "true"}}}}},
		{"JSON NameValuePair, two reports, ISO-8601", "application/json",
			`{"Report":[{"CollectionTime":"2013-03-29T03:52:29Z","A.1":1.5,"S":"x"},{"A.1":2}]}`,
			[]telemetry.Report{{Time: t0, Values: []telemetry.Value{{"A.1", "1.5"}, {"S", "x"}}}, {Values: []telemetry.Value{{"A.1", "2"}}}}},
		{"CSV ParameterPerRow", "text/csv; charset=UTF-8; header=present",
			"ReportTimestamp,ParameterName,ParameterValue,ParameterType\r\n1364529149,Device.X.BytesSent,25248,unsignedLong\r\n1364529149,Device.X.Name,\"a,b\",string\r\n1364529150,Device.X.BytesSent,25249,unsignedLong\r\n",
			[]telemetry.Report{{Time: t0, Values: []telemetry.Value{{"Device.X.BytesSent", "25248"}, {"Device.X.Name", "a,b"}}},
				{Time: t0.Add(time.Second), Values: []telemetry.Value{{"Device.X.BytesSent", "25249"}}}}},
		{"CSV ParameterPerColumn", "text/csv",
			"ReportTimestamp,BroadPktSent,BytesSent\n1364529149,25248,7682161\n1364529150,25249,7683161\n",
			[]telemetry.Report{{Time: t0, Values: []telemetry.Value{{"BroadPktSent", "25248"}, {"BytesSent", "7682161"}}},
				{Time: t0.Add(time.Second), Values: []telemetry.Value{{"BroadPktSent", "25249"}, {"BytesSent", "7683161"}}}}},
		{"CSV without timestamp, semicolons", "",
			"A;B\n1;2\n", []telemetry.Report{{Values: []telemetry.Value{{"A", "1"}, {"B", "2"}}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := telemetry.Parse([]byte(tc.body), tc.ctype)
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Errorf("-want +got\n%s", d)
			}
		})
	}
	for _, bad := range []struct{ body, ctype string }{
		{`{"Report":[{"CollectionTime":"yesterday"}]}`, "application/json"},
		{`{"Report":`, "application/json"},
		{"ReportTimestamp,A\nnot-a-time,1\n", "text/csv"},
		{"<xml/>", "application/xml"},
	} {
		if _, err := telemetry.Parse([]byte(bad.body), bad.ctype); !errors.Is(err, telemetry.ErrFormat) {
			t.Errorf("Parse(%q): %v, want ErrFormat", bad.body, err)
		}
	}
}
