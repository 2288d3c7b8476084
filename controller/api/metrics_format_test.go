package api_test

import (
	"context"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/uspkit/uspkit/telemetry"
)

// TestMetricsExposition: /metrics is valid Prometheus text exposition
// format 0.0.4 (checked by checkExposition, line by line), with the
// Controller's figures, the request histogram after a request, and the
// Bulk Data counters and latest values of Agents whose identifiers need
// escaping in a label.
func TestMetricsExposition(t *testing.T) {
	srv, tel := telemetryRig(t)
	// One request to the Agent, so that the histogram has a sample.
	if code, b := call(t, srv, oper, "POST", "/api/v1/agents/"+agentID+"/get", `{"paths":["Device.LocalAgent.EndpointID"]}`); code != 200 {
		t.Fatalf("get: %d %s", code, b)
	}
	now := time.Now()
	for _, a := range []string{agentID, `os::012345-odd"quote\back`} {
		if _, err := tel.Ingest(context.Background(), a, []telemetry.Report{{Time: now, Values: []telemetry.Value{{Name: "Device.LocalAgent.UpTime", Value: "42"}}}}); err != nil {
			t.Fatal(err)
		}
	}
	code, b := call(t, srv, viewer, "GET", "/metrics", "")
	if code != 200 {
		t.Fatalf("metrics: %d %s", code, b)
	}
	fams, err := checkExposition(string(b))
	if err != nil {
		t.Fatalf("%v\n%s", err, b)
	}
	for name, typ := range map[string]string{"usp_agents": "gauge", "usp_agents_online": "gauge", "usp_notifications_received_total": "counter",
		"usp_request_duration_seconds": "histogram", "usp_bulkdata_reports_total": "counter", "usp_bulkdata_rows_total": "counter",
		"usp_bulkdata_purged_total": "counter", "usp_bulkdata_value": "gauge"} {
		if fams[name] != typ {
			t.Errorf("family %s: type %q, want %q", name, fams[name], typ)
		}
	}
	for _, want := range []string{"usp_request_duration_seconds_count 1\n", "usp_bulkdata_reports_total 2\n",
		`usp_bulkdata_value{agent="os::012345-odd\"quote\\back",param="Device.LocalAgent.UpTime"} 42` + "\n"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("no %q in\n%s", want, b)
		}
	}
}

// TestCheckExposition: the checker refuses what the format does not allow.
func TestCheckExposition(t *testing.T) {
	for _, tc := range []struct{ name, text string }{
		{"no final newline", "# TYPE a gauge\na 1"},
		{"sample before its TYPE", "a 1\n# TYPE a gauge\n"},
		{"TYPE twice", "# TYPE a gauge\na 1\n# TYPE a gauge\n"},
		{"family split", "# TYPE a gauge\na{x=\"1\"} 1\n# TYPE b gauge\nb 1\na{x=\"2\"} 1\n"},
		{"bad name", "# TYPE 1a gauge\n1a 1\n"},
		{"bad value", "# TYPE a gauge\na one\n"},
		{"unquoted label", "# TYPE a gauge\na{x=1} 1\n"},
		{"bad escape", "# TYPE a gauge\na{x=\"\\q\"} 1\n"},
		{"duplicate series", "# TYPE a gauge\na{x=\"1\"} 1\na{x=\"1\"} 2\n"},
		{"negative counter", "# TYPE a_total counter\na_total -1\n"},
		{"unknown type", "# TYPE a meter\na 1\n"},
		{"histogram without +Inf", "# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_sum 1\nh_count 1\n"},
		{"histogram not cumulative", "# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 1\n"},
		{"histogram count differs", "# TYPE h histogram\nh_bucket{le=\"+Inf\"} 2\nh_sum 1\nh_count 1\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := checkExposition(tc.text); err == nil {
				t.Errorf("accepted:\n%s", tc.text)
			}
		})
	}
	good := "# HELP a A \\\\ gauge.\n# TYPE a gauge\na{x=\"q\\\"\\\\\\n\"} 1.5e3\na{x=\"y\"} +Inf\n" +
		"# TYPE h histogram\nh_bucket{le=\"0.5\"} 1\nh_bucket{le=\"+Inf\"} 2\nh_sum 1.25\nh_count 2\n"
	if _, err := checkExposition(good); err != nil {
		t.Errorf("refused valid text: %v", err)
	}
}

var (
	metricName = regexp.MustCompile(`^[a-zA-Z_:][a-zA-Z0-9_:]*$`)
	labelName  = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)
)

// checkExposition checks text against the Prometheus text exposition
// format 0.0.4 and returns each family's type: HELP and TYPE lines,
// names, label syntax and escapes, values, one TYPE per family before its
// samples, a family's samples together, no series twice, counters not
// negative, histograms with cumulative buckets ending in le="+Inf" equal
// to _count, and _sum.
func checkExposition(text string) (map[string]string, error) {
	if text == "" || !strings.HasSuffix(text, "\n") {
		return nil, fmt.Errorf("the text does not end with a newline")
	}
	types := map[string]string{}
	done := map[string]bool{} // families whose samples ended
	seen := map[string]bool{}
	type hist struct {
		les     []float64
		counts  []float64
		count   float64
		hasSum  bool
		hasCnt  bool
		lastInf bool
	}
	hists := map[string]*hist{}
	current := ""
	for i, line := range strings.Split(strings.TrimSuffix(text, "\n"), "\n") {
		n := i + 1
		if rest, ok := strings.CutPrefix(line, "# "); ok {
			f := strings.SplitN(rest, " ", 3)
			switch {
			case len(f) >= 2 && f[0] == "HELP":
				if !metricName.MatchString(f[1]) {
					return nil, fmt.Errorf("line %d: HELP of a bad name %q", n, f[1])
				}
			case len(f) == 3 && f[0] == "TYPE":
				if !metricName.MatchString(f[1]) {
					return nil, fmt.Errorf("line %d: TYPE of a bad name %q", n, f[1])
				}
				switch f[2] {
				case "counter", "gauge", "histogram", "summary", "untyped":
				default:
					return nil, fmt.Errorf("line %d: unknown type %q", n, f[2])
				}
				if _, dup := types[f[1]]; dup {
					return nil, fmt.Errorf("line %d: second TYPE for %s", n, f[1])
				}
				types[f[1]] = f[2]
				if f[2] == "histogram" {
					hists[f[1]] = &hist{}
				}
			}
			continue
		}
		if strings.HasPrefix(line, "#") || line == "" {
			continue
		}
		name, labels, value, err := parseSample(line)
		if err != nil {
			return nil, fmt.Errorf("line %d: %v", n, err)
		}
		fam, suffix := name, ""
		for _, s := range []string{"_bucket", "_sum", "_count"} {
			if base, ok := strings.CutSuffix(name, s); ok && types[base] == "histogram" {
				fam, suffix = base, s
			}
		}
		typ, ok := types[fam]
		if !ok {
			return nil, fmt.Errorf("line %d: sample of %s before its TYPE", n, fam)
		}
		if fam != current {
			if done[fam] {
				return nil, fmt.Errorf("line %d: the samples of %s are not together", n, fam)
			}
			if current != "" {
				done[current] = true
			}
			current = fam
		}
		key := name + "{" + strings.Join(labels, ",") + "}"
		if seen[key] {
			return nil, fmt.Errorf("line %d: series %s twice", n, key)
		}
		seen[key] = true
		if typ == "counter" && !(value >= 0) {
			return nil, fmt.Errorf("line %d: counter %s is %v", n, name, value)
		}
		if h := hists[fam]; h != nil {
			switch suffix {
			case "_bucket":
				le := ""
				for _, l := range labels {
					if v, ok := strings.CutPrefix(l, `le="`); ok {
						le = strings.TrimSuffix(v, `"`)
					}
				}
				b, err := strconv.ParseFloat(le, 64)
				if err != nil {
					return nil, fmt.Errorf("line %d: bucket le %q", n, le)
				}
				if k := len(h.les); k > 0 && (b <= h.les[k-1] || value < h.counts[k-1]) {
					return nil, fmt.Errorf("line %d: bucket le=%q not after the previous one or not cumulative", n, le)
				}
				h.les, h.counts, h.lastInf = append(h.les, b), append(h.counts, value), math.IsInf(b, 1)
			case "_sum":
				h.hasSum = true
			case "_count":
				h.hasCnt, h.count = true, value
			default:
				return nil, fmt.Errorf("line %d: %s in histogram %s", n, name, fam)
			}
		}
	}
	for name, h := range hists {
		if !h.lastInf || !h.hasSum || !h.hasCnt || h.counts[len(h.counts)-1] != h.count {
			return nil, fmt.Errorf("histogram %s: needs buckets ending in le=\"+Inf\" equal to _count, _sum and _count", name)
		}
	}
	return types, nil
}

// parseSample splits `name{l="v",…} value [timestamp]`, checking names,
// quoting and escapes; labels come back as `l="v"` in their order.
func parseSample(line string) (name string, labels []string, value float64, err error) {
	i := strings.IndexAny(line, "{ ")
	if i < 0 {
		return "", nil, 0, fmt.Errorf("no value in %q", line)
	}
	name, rest := line[:i], line[i:]
	if !metricName.MatchString(name) {
		return "", nil, 0, fmt.Errorf("bad metric name %q", name)
	}
	if strings.HasPrefix(rest, "{") {
		rest = rest[1:]
		for !strings.HasPrefix(rest, "}") {
			eq := strings.IndexByte(rest, '=')
			if eq < 0 || !labelName.MatchString(rest[:eq]) || len(rest) < eq+2 || rest[eq+1] != '"' {
				return "", nil, 0, fmt.Errorf("bad label in %q", line)
			}
			j, closed := eq+2, false
			for j < len(rest) {
				c := rest[j]
				if c == '\\' {
					if j+1 >= len(rest) || !strings.ContainsRune(`\"n`, rune(rest[j+1])) {
						return "", nil, 0, fmt.Errorf("bad escape in %q", line)
					}
					j += 2
					continue
				}
				if c == '"' {
					closed = true
					break
				}
				j++
			}
			if !closed {
				return "", nil, 0, fmt.Errorf("unterminated label value in %q", line)
			}
			labels = append(labels, rest[:j+1])
			rest = strings.TrimPrefix(rest[j+1:], ",")
		}
		rest = rest[1:]
	}
	f := strings.Fields(rest)
	if !strings.HasPrefix(rest, " ") || len(f) < 1 || len(f) > 2 {
		return "", nil, 0, fmt.Errorf("bad value part %q", rest)
	}
	value, err = strconv.ParseFloat(f[0], 64)
	if err != nil {
		return "", nil, 0, fmt.Errorf("bad value %q", f[0])
	}
	if len(f) == 2 {
		if _, err := strconv.ParseInt(f[1], 10, 64); err != nil {
			return "", nil, 0, fmt.Errorf("bad timestamp %q", f[1])
		}
	}
	return name, labels, value, nil
}
