package bulkdata

import (
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"github.com/uspkit/uspkit/schema"
)

// Value is one parameter of a report: its name in the report (see
// TR-369 Annex A.2.1), its value as the data model gives it, and its
// TR-106 base type.
type Value struct {
	Name  string
	Value string
	Type  schema.Base
	// List is set for list-valued parameters, which encode as strings.
	List bool
}

// Report is the data of one reporting interval.
type Report struct {
	// Time is when the values were collected.
	Time   time.Time
	Values []Value
}

// Timestamp formats of JSONEncoding.ReportTimestamp and
// CSVEncoding.RowTimestamp.
const (
	TimestampUnix = "Unix-Epoch"
	TimestampISO  = "ISO-8601"
	TimestampNone = "None"
)

// Report formats of JSONEncoding.ReportFormat and CSVEncoding.ReportFormat.
const (
	FormatObjectHierarchy    = "ObjectHierarchy"
	FormatNameValuePair      = "NameValuePair"
	FormatParameterPerRow    = "ParameterPerRow"
	FormatParameterPerColumn = "ParameterPerColumn"
)

// JSONOptions are a profile's JSONEncoding settings.
type JSONOptions struct {
	// ReportFormat is ObjectHierarchy (also for "") or NameValuePair.
	ReportFormat string
	// Timestamp is Unix-Epoch (also for ""), ISO-8601 or None.
	Timestamp string
}

// CSVOptions are a profile's CSVEncoding settings.
type CSVOptions struct {
	// FieldSeparator, RowSeparator and EscapeCharacter default to ",",
	// "\n" and `"` when empty.
	FieldSeparator  string
	RowSeparator    string
	EscapeCharacter string
	// ReportFormat is ParameterPerColumn (also for "") or ParameterPerRow.
	ReportFormat string
	// Timestamp is Unix-Epoch (also for ""), ISO-8601 or None.
	Timestamp string
}

// timestamp formats t: Unix-Epoch as whole seconds since 1970 (as in
// TR-369 Annex A's examples), ISO-8601 as RFC 3339 in UTC.
func timestamp(t time.Time, format string) (text string, number bool) {
	switch format {
	case TimestampISO:
		return t.UTC().Format(time.RFC3339), false
	case TimestampNone:
		return "", false
	}
	return strconv.FormatInt(t.Unix(), 10), true
}

// EncodeJSON appends to dst the JSON encoding of reports, the failed ones
// first and the current one last, as one "Report" array [TR-369 Annex
// A.2.5]. Values take the JSON type of their TR-106 base type: numbers
// for the integer types, true/false for booleans, strings otherwise and
// for lists.
func EncodeJSON(dst []byte, reports []Report, o JSONOptions) []byte {
	dst = append(dst, `{"Report":[`...)
	for i, r := range reports {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendJSONReport(dst, r, o)
	}
	return append(dst, "]}"...)
}

func appendJSONReport(dst []byte, r Report, o JSONOptions) []byte {
	dst = append(dst, '{')
	first := true
	if ts, num := timestamp(r.Time, o.Timestamp); o.Timestamp != TimestampNone {
		dst = append(dst, `"CollectionTime":`...)
		if num {
			dst = append(dst, ts...)
		} else {
			dst = appendJSONString(dst, ts)
		}
		first = false
	}
	if o.ReportFormat == FormatNameValuePair {
		for _, v := range r.Values {
			if !first {
				dst = append(dst, ',')
			}
			first = false
			dst = appendJSONString(dst, v.Name)
			dst = append(dst, ':')
			dst = appendJSONValue(dst, v)
		}
		return append(dst, '}')
	}
	root := &node{}
	for _, v := range r.Values {
		root.insert(strings.Split(v.Name, "."), v)
	}
	for _, c := range root.kids {
		if !first {
			dst = append(dst, ',')
		}
		first = false
		dst = c.append(dst)
	}
	return append(dst, '}')
}

// node is one level of the ObjectHierarchy format: an object with named
// members in the order first seen, or a leaf value.
type node struct {
	name  string
	kids  []*node
	index map[string]*node
	leaf  *Value
}

func (n *node) insert(parts []string, v Value) {
	if len(parts) == 0 {
		n.leaf = &v
		return
	}
	if n.index == nil {
		n.index = map[string]*node{}
	}
	c := n.index[parts[0]]
	if c == nil {
		c = &node{name: parts[0]}
		n.index[parts[0]] = c
		n.kids = append(n.kids, c)
	}
	c.insert(parts[1:], v)
}

func (n *node) append(dst []byte) []byte {
	dst = appendJSONString(dst, n.name)
	dst = append(dst, ':')
	if len(n.kids) == 0 {
		if n.leaf == nil {
			return append(dst, "null"...)
		}
		return appendJSONValue(dst, *n.leaf)
	}
	dst = append(dst, '{')
	for i, c := range n.kids {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = c.append(dst)
	}
	return append(dst, '}')
}

// appendJSONValue writes v with the JSON type of its TR-106 base type
// [TR-369 Annex A.2.5, Translating Data Types]; a value that does not
// parse as its type is written as a string.
func appendJSONValue(dst []byte, v Value) []byte {
	if !v.List {
		switch v.Type {
		case schema.BaseBoolean:
			switch v.Value {
			case "true", "1":
				return append(dst, "true"...)
			case "false", "0":
				return append(dst, "false"...)
			}
		case schema.BaseInt, schema.BaseLong:
			if _, err := strconv.ParseInt(v.Value, 10, 64); err == nil {
				return append(dst, v.Value...)
			}
		case schema.BaseUnsignedInt, schema.BaseUnsignedLong:
			if _, err := strconv.ParseUint(v.Value, 10, 64); err == nil {
				return append(dst, v.Value...)
			}
		}
	}
	return appendJSONString(dst, v.Value)
}

func appendJSONString(dst []byte, s string) []byte {
	b, _ := json.Marshal(s) // a string always marshals
	return append(dst, b...)
}

// EncodeCSV appends to dst the CSV encoding of reports [TR-369 Annex
// A.2.4]: one header line, then the rows of each report in order, the
// failed ones first, without repeating the header [R-BULK.11].
// ParameterPerRow writes ParameterName, ParameterValue and ParameterType
// (the TR-106 base type) per row; ParameterPerColumn one row per report
// with a column per parameter, named by the first report.
func EncodeCSV(dst []byte, reports []Report, o CSVOptions) []byte {
	fs, rs, esc := o.FieldSeparator, o.RowSeparator, o.EscapeCharacter
	if fs == "" {
		fs = ","
	}
	if rs == "" {
		rs = "\n"
	}
	if esc == "" {
		esc = `"`
	}
	w := csvWriter{dst: dst, fs: fs, rs: rs, esc: esc}
	stamp := o.Timestamp != TimestampNone
	if o.ReportFormat == FormatParameterPerRow {
		if stamp {
			w.field("ReportTimestamp")
		}
		w.field("ParameterName")
		w.field("ParameterValue")
		w.field("ParameterType")
		w.row()
		for _, r := range reports {
			ts, _ := timestamp(r.Time, o.Timestamp)
			for _, v := range r.Values {
				if stamp {
					w.field(ts)
				}
				w.field(v.Name)
				w.field(v.Value)
				w.field(typeName(v))
				w.row()
			}
		}
		return w.dst
	}
	if stamp {
		w.field("ReportTimestamp")
	}
	if len(reports) > 0 {
		for _, v := range reports[0].Values {
			w.field(v.Name)
		}
	}
	w.row()
	for _, r := range reports {
		if stamp {
			ts, _ := timestamp(r.Time, o.Timestamp)
			w.field(ts)
		}
		for _, v := range r.Values {
			w.field(v.Value)
		}
		w.row()
	}
	return w.dst
}

// typeName is the TR-106 base type of v as ParameterPerRow writes it;
// lists are strings.
func typeName(v Value) string {
	if v.List {
		return "string"
	}
	return v.Type.String()
}

// csvWriter writes fields with the configured separators, escaping a
// field that holds a separator, the escape character or a line break by
// enclosing it in the escape character and doubling that character
// inside (RFC 4180 with the escape character for the double quote).
type csvWriter struct {
	dst         []byte
	fs, rs, esc string
	inRow       bool
}

func (w *csvWriter) field(s string) {
	if w.inRow {
		w.dst = append(w.dst, w.fs...)
	}
	w.inRow = true
	if strings.Contains(s, w.fs) || strings.Contains(s, w.rs) || strings.Contains(s, w.esc) || strings.ContainsAny(s, "\r\n") {
		w.dst = append(w.dst, w.esc...)
		w.dst = append(w.dst, strings.ReplaceAll(s, w.esc, w.esc+w.esc)...)
		w.dst = append(w.dst, w.esc...)
		return
	}
	w.dst = append(w.dst, s...)
}

func (w *csvWriter) row() {
	w.dst = append(w.dst, w.rs...)
	w.inRow = false
}

// contentType returns the Content-Type and BBF-Report-Format header
// values of an encoding [R-BULK.7], [R-BULK.8], [R-BULK.11].
func contentType(encoding string, j JSONOptions, c CSVOptions) (ctype, format string) {
	if encoding == EncodingCSV {
		f := c.ReportFormat
		if f == "" {
			f = FormatParameterPerColumn
		}
		return "text/csv; charset=UTF-8; header=present", f
	}
	f := j.ReportFormat
	if f == "" {
		f = FormatObjectHierarchy
	}
	return "application/json; charset=UTF-8", f
}
