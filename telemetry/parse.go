package telemetry

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"mime"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Report is one reporting interval of an Agent's report.
type Report struct {
	// Time is the report's CollectionTime (or ReportTimestamp); the zero
	// Time when the report carries none.
	Time   time.Time
	Values []Value
}

// Value is one parameter of a report as the report names it.
type Value struct {
	Name  string
	Value string
}

// ErrFormat is wrapped by every error about a malformed report.
var ErrFormat = errors.New("telemetry: malformed report")

// Parse reads the reports of one transfer: JSON (ObjectHierarchy or
// NameValuePair, TR-369 Annex A.2.5) or CSV (ParameterPerRow or
// ParameterPerColumn, Annex A.2.4), as the media type says; with no
// media type, a body that starts with "{" is JSON. The CSV field
// separator is "," unless the header line holds none and holds ";" or a
// tab.
func Parse(body []byte, contentType string) ([]Report, error) {
	mt, _, _ := mime.ParseMediaType(contentType)
	switch {
	case mt == "application/json" || (mt == "" && bytes.HasPrefix(bytes.TrimSpace(body), []byte("{"))):
		return parseJSON(body)
	case mt == "text/csv" || mt == "":
		return parseCSV(body)
	}
	return nil, fmt.Errorf("%w: media type %q is not application/json or text/csv", ErrFormat, mt)
}

func parseJSON(body []byte) ([]Report, error) {
	var doc struct {
		Report []map[string]json.RawMessage
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrFormat, err)
	}
	out := make([]Report, 0, len(doc.Report))
	for _, r := range doc.Report {
		var rep Report
		keys := make([]string, 0, len(r))
		for k := range r {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if k == "CollectionTime" {
				t, err := jsonTime(r[k])
				if err != nil {
					return nil, err
				}
				rep.Time = t
				continue
			}
			if err := flatten(k, r[k], &rep.Values, 0); err != nil {
				return nil, err
			}
		}
		out = append(out, rep)
	}
	return out, nil
}

// flatten adds the leaves of v under name, joining object members with
// "." (the ObjectHierarchy format); a NameValuePair value is a leaf.
func flatten(name string, v json.RawMessage, out *[]Value, depth int) error {
	if depth > 32 {
		return fmt.Errorf("%w: objects nested deeper than 32", ErrFormat)
	}
	v = bytes.TrimSpace(v)
	if len(v) > 0 && v[0] == '{' {
		var m map[string]json.RawMessage
		if err := json.Unmarshal(v, &m); err != nil {
			return fmt.Errorf("%w: %s: %v", ErrFormat, name, err)
		}
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if err := flatten(name+"."+k, m[k], out, depth+1); err != nil {
				return err
			}
		}
		return nil
	}
	var x any
	dec := json.NewDecoder(bytes.NewReader(v))
	dec.UseNumber()
	if err := dec.Decode(&x); err != nil {
		return fmt.Errorf("%w: %s: %v", ErrFormat, name, err)
	}
	var s string
	switch t := x.(type) {
	case string:
		s = t
	case json.Number:
		s = t.String()
	case bool:
		s = strconv.FormatBool(t)
	case nil:
		s = ""
	default:
		s = string(v)
	}
	*out = append(*out, Value{Name: name, Value: s})
	return nil
}

func jsonTime(v json.RawMessage) (time.Time, error) {
	var x any
	dec := json.NewDecoder(bytes.NewReader(v))
	dec.UseNumber()
	if err := dec.Decode(&x); err != nil {
		return time.Time{}, fmt.Errorf("%w: CollectionTime: %v", ErrFormat, err)
	}
	switch t := x.(type) {
	case json.Number:
		return parseTimestamp(t.String())
	case string:
		return parseTimestamp(t)
	}
	return time.Time{}, fmt.Errorf("%w: CollectionTime %s", ErrFormat, v)
}

// parseTimestamp reads a Unix-Epoch (seconds; milliseconds when over
// 10^11) or ISO-8601 timestamp.
func parseTimestamp(s string) (time.Time, error) {
	if n, err := strconv.ParseFloat(s, 64); err == nil && !math.IsInf(n, 0) && !math.IsNaN(n) && n >= 0 {
		if n > 1e11 {
			return time.UnixMilli(int64(n)).UTC(), nil
		}
		sec, frac := math.Modf(n)
		return time.Unix(int64(sec), int64(frac*1e9)).UTC(), nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02T15:04:05.999999999"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("%w: timestamp %q is neither Unix-Epoch nor ISO-8601", ErrFormat, s)
}

func parseCSV(body []byte) ([]Report, error) {
	sep := ','
	if line, _, _ := bytes.Cut(body, []byte("\n")); !bytes.ContainsRune(line, ',') {
		if bytes.ContainsRune(line, ';') {
			sep = ';'
		} else if bytes.ContainsRune(line, '\t') {
			sep = '\t'
		}
	}
	r := csv.NewReader(bytes.NewReader(body))
	r.Comma = sep
	r.FieldsPerRecord = -1
	r.LazyQuotes = true
	header, err := r.Read()
	if err != nil {
		return nil, fmt.Errorf("%w: CSV header: %v", ErrFormat, err)
	}
	for i := range header {
		header[i] = strings.TrimSpace(header[i])
	}
	col := func(name string) int {
		for i, h := range header {
			if h == name {
				return i
			}
		}
		return -1
	}
	ts, pn, pv := col("ReportTimestamp"), col("ParameterName"), col("ParameterValue")
	var out []Report
	byTime := map[string]int{} // ParameterPerRow: report index by timestamp text
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%w: CSV: %v", ErrFormat, err)
		}
		if len(rec) == 1 && strings.TrimSpace(rec[0]) == "" {
			continue
		}
		var stamp string
		var t time.Time
		if ts >= 0 && ts < len(rec) {
			stamp = strings.TrimSpace(rec[ts])
			if t, err = parseTimestamp(stamp); err != nil {
				return nil, err
			}
		}
		if pn >= 0 && pv >= 0 {
			if pn >= len(rec) || pv >= len(rec) {
				return nil, fmt.Errorf("%w: CSV row with %d fields", ErrFormat, len(rec))
			}
			i, ok := byTime[stamp]
			if !ok {
				i = len(out)
				byTime[stamp] = i
				out = append(out, Report{Time: t})
			}
			out[i].Values = append(out[i].Values, Value{Name: strings.TrimSpace(rec[pn]), Value: rec[pv]})
			continue
		}
		rep := Report{Time: t}
		for i, h := range header {
			if i == ts || i >= len(rec) {
				continue
			}
			rep.Values = append(rep.Values, Value{Name: h, Value: rec[i]})
		}
		out = append(out, rep)
	}
	return out, nil
}
