package bulkdata_test

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"testing"
	"time"

	"github.com/uspkit/uspkit/schema"
	"github.com/uspkit/uspkit/tr181/bulkdata"
)

// TestReportSize gives the bytes of one report of 200 counters (20
// interfaces × 10 Stats parameters, full path names) in each format,
// plain and gzip, for docs/perf.md; gzip must shrink every one.
func TestReportSize(t *testing.T) {
	var vals []bulkdata.Value
	names := []string{"BytesSent", "BytesReceived", "PacketsSent", "PacketsReceived", "ErrorsSent", "ErrorsReceived",
		"UnicastPacketsSent", "UnicastPacketsReceived", "DiscardPacketsSent", "DiscardPacketsReceived"}
	for i := 1; i <= 20; i++ {
		for j, n := range names {
			vals = append(vals, bulkdata.Value{Name: fmt.Sprintf("Device.Ethernet.Interface.%d.Stats.%s", i, n),
				Value: fmt.Sprint(1234567890 + i*1000003 + j*7919), Type: schema.BaseUnsignedLong})
		}
	}
	r := []bulkdata.Report{{Time: time.Unix(1796294638, 0), Values: vals}}
	for _, tc := range []struct {
		name string
		body []byte
	}{
		{"JSON ObjectHierarchy", bulkdata.EncodeJSON(nil, r, bulkdata.JSONOptions{ReportFormat: bulkdata.FormatObjectHierarchy})},
		{"JSON NameValuePair", bulkdata.EncodeJSON(nil, r, bulkdata.JSONOptions{ReportFormat: bulkdata.FormatNameValuePair})},
		{"CSV ParameterPerRow", bulkdata.EncodeCSV(nil, r, bulkdata.CSVOptions{ReportFormat: bulkdata.FormatParameterPerRow})},
		{"CSV ParameterPerColumn", bulkdata.EncodeCSV(nil, r, bulkdata.CSVOptions{ReportFormat: bulkdata.FormatParameterPerColumn})},
	} {
		var z bytes.Buffer
		w := gzip.NewWriter(&z)
		w.Write(tc.body)
		w.Close()
		if z.Len() >= len(tc.body) {
			t.Errorf("%s: gzip %d bytes, plain %d", tc.name, z.Len(), len(tc.body))
		}
		t.Logf("%-24s %6d bytes, gzip %5d bytes (200 parameters)", tc.name, len(tc.body), z.Len())
	}
}
