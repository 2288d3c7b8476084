package bulkdata_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/uspkit/uspkit/schema"
	"github.com/uspkit/uspkit/tr181/bulkdata"
)

// moca is the data of TR-369 Annex A.2.5's examples: two MoCA interfaces
// collected at 1364529149.
func moca() bulkdata.Report {
	u := schema.BaseUnsignedLong
	return bulkdata.Report{Time: time.Unix(1364529149, 0), Values: []bulkdata.Value{
		{Name: "Device.MoCA.Interface.1.Stats.BroadPktSent", Value: "25248", Type: u},
		{Name: "Device.MoCA.Interface.1.Stats.BytesReceived", Value: "200543250", Type: u},
		{Name: "Device.MoCA.Interface.1.Stats.BytesSent", Value: "25248", Type: u},
		{Name: "Device.MoCA.Interface.1.Stats.MultiPktReceived", Value: "200543250", Type: u},
		{Name: "Device.MoCA.Interface.2.Stats.BroadPktSent", Value: "93247", Type: u},
		{Name: "Device.MoCA.Interface.2.Stats.BytesReceived", Value: "900543250", Type: u},
		{Name: "Device.MoCA.Interface.2.Stats.BytesSent", Value: "93247", Type: u},
		{Name: "Device.MoCA.Interface.2.Stats.MultiPktReceived", Value: "900543250", Type: u},
	}}
}

// TestEncodeJSON checks the two JSON report formats against TR-369
// Annex A.2.5's examples (whitespace removed), the timestamp formats,
// the JSON types of TR-106 base types and the failed reports carried in
// the Report array.
func TestEncodeJSON(t *testing.T) {
	typed := bulkdata.Report{Time: time.Date(2015, 11, 1, 11, 12, 13, 0, time.UTC), Values: []bulkdata.Value{
		{Name: "B", Value: "true", Type: schema.BaseBoolean},
		{Name: "I", Value: "-3", Type: schema.BaseInt},
		{Name: "S", Value: "a\"b", Type: schema.BaseString},
		{Name: "D", Value: "2015-11-01T11:12:13Z", Type: schema.BaseDateTime},
		{Name: "L", Value: "1,2", Type: schema.BaseUnsignedInt, List: true},
		{Name: "X", Value: "", Type: schema.BaseUnsignedInt},
	}}
	for _, tc := range []struct {
		name    string
		reports []bulkdata.Report
		opt     bulkdata.JSONOptions
		want    string
	}{
		{"ObjectHierarchy", []bulkdata.Report{moca()}, bulkdata.JSONOptions{ReportFormat: "ObjectHierarchy", Timestamp: "Unix-Epoch"},
			`{"Report":[{"CollectionTime":1364529149,"Device":{"MoCA":{"Interface":{` +
				`"1":{"Stats":{"BroadPktSent":25248,"BytesReceived":200543250,"BytesSent":25248,"MultiPktReceived":200543250}},` +
				`"2":{"Stats":{"BroadPktSent":93247,"BytesReceived":900543250,"BytesSent":93247,"MultiPktReceived":900543250}}}}}}]}`},
		{"NameValuePair", []bulkdata.Report{moca()}, bulkdata.JSONOptions{ReportFormat: "NameValuePair", Timestamp: "Unix-Epoch"},
			`{"Report":[{"CollectionTime":1364529149,` +
				`"Device.MoCA.Interface.1.Stats.BroadPktSent":25248,"Device.MoCA.Interface.1.Stats.BytesReceived":200543250,` +
				`"Device.MoCA.Interface.1.Stats.BytesSent":25248,"Device.MoCA.Interface.1.Stats.MultiPktReceived":200543250,` +
				`"Device.MoCA.Interface.2.Stats.BroadPktSent":93247,"Device.MoCA.Interface.2.Stats.BytesReceived":900543250,` +
				`"Device.MoCA.Interface.2.Stats.BytesSent":93247,"Device.MoCA.Interface.2.Stats.MultiPktReceived":900543250}]}`},
		{"defaults are ObjectHierarchy and Unix-Epoch", []bulkdata.Report{{Time: time.Unix(7, 0), Values: []bulkdata.Value{{Name: "A.B", Value: "1", Type: schema.BaseInt}}}},
			bulkdata.JSONOptions{}, `{"Report":[{"CollectionTime":7,"A":{"B":1}}]}`},
		{"ISO-8601 and types", []bulkdata.Report{typed}, bulkdata.JSONOptions{ReportFormat: "NameValuePair", Timestamp: "ISO-8601"},
			`{"Report":[{"CollectionTime":"2015-11-01T11:12:13Z","B":true,"I":-3,"S":"a\"b","D":"2015-11-01T11:12:13Z","L":"1,2","X":""}]}`},
		{"no timestamp", []bulkdata.Report{{Time: time.Unix(7, 0), Values: []bulkdata.Value{{Name: "N", Value: "x"}}}},
			bulkdata.JSONOptions{ReportFormat: "NameValuePair", Timestamp: "None"}, `{"Report":[{"N":"x"}]}`},
		{"failed reports first", []bulkdata.Report{
			{Time: time.Unix(1, 0), Values: []bulkdata.Value{{Name: "N", Value: "1", Type: schema.BaseInt}}},
			{Time: time.Unix(2, 0), Values: []bulkdata.Value{{Name: "N", Value: "2", Type: schema.BaseInt}}}},
			bulkdata.JSONOptions{ReportFormat: "NameValuePair"}, `{"Report":[{"CollectionTime":1,"N":1},{"CollectionTime":2,"N":2}]}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := string(bulkdata.EncodeJSON(nil, tc.reports, tc.opt))
			if got != tc.want {
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
			if !json.Valid([]byte(got)) {
				t.Error("not valid JSON")
			}
		})
	}
}

// TestEncodeCSV checks the CSV report formats against TR-369 Annex
// A.2.4's examples: the header line [R-BULK.11], ParameterPerRow with
// name, value and TR-106 type, ParameterPerColumn with the failed
// reports' rows before the current one and no second header.
func TestEncodeCSV(t *testing.T) {
	u := schema.BaseUnsignedLong
	row := func(ts int64, a, b, c, d string) bulkdata.Report {
		return bulkdata.Report{Time: time.Unix(ts, 0), Values: []bulkdata.Value{
			{Name: "BroadPktSent", Value: a, Type: u}, {Name: "BytesReceived", Value: b, Type: u},
			{Name: "BytesSent", Value: c, Type: u}, {Name: "MultiPktReceived", Value: d, Type: u}}}
	}
	perRow := bulkdata.Report{Time: time.Unix(1364529149, 0), Values: []bulkdata.Value{
		{Name: "Device.MoCA.Interface.1.Stats.BroadPktSent", Value: "25248", Type: u},
		{Name: "Device.MoCA.Interface.1.Stats.BytesReceived", Value: "200543250", Type: u},
		{Name: "Device.MoCA.Interface.1.Stats.BytesSent", Value: "7682161", Type: u},
		{Name: "Device.MoCA.Interface.1.Stats.MultiPktReceived", Value: "890682272", Type: u},
	}}
	for _, tc := range []struct {
		name    string
		reports []bulkdata.Report
		opt     bulkdata.CSVOptions
		want    string
	}{
		{"ParameterPerRow", []bulkdata.Report{perRow}, bulkdata.CSVOptions{FieldSeparator: ",", RowSeparator: "\r\n", EscapeCharacter: `"`, ReportFormat: "ParameterPerRow", Timestamp: "Unix-Epoch"},
			"ReportTimestamp,ParameterName,ParameterValue,ParameterType\r\n" +
				"1364529149,Device.MoCA.Interface.1.Stats.BroadPktSent,25248,unsignedLong\r\n" +
				"1364529149,Device.MoCA.Interface.1.Stats.BytesReceived,200543250,unsignedLong\r\n" +
				"1364529149,Device.MoCA.Interface.1.Stats.BytesSent,7682161,unsignedLong\r\n" +
				"1364529149,Device.MoCA.Interface.1.Stats.MultiPktReceived,890682272,unsignedLong\r\n"},
		{"ParameterPerColumn with three failed reports", []bulkdata.Report{
			row(1364529149, "25248", "200543250", "7682161", "890682272"),
			row(1464639150, "25249", "200553250", "7683161", "900683272"),
			row(1564749151, "25255", "200559350", "7684133", "910682272"),
			row(1664859152, "25252", "200653267", "7685167", "9705982277")},
			bulkdata.CSVOptions{FieldSeparator: ",", RowSeparator: "\r\n", EscapeCharacter: `"`, ReportFormat: "ParameterPerColumn", Timestamp: "Unix-Epoch"},
			"ReportTimestamp,BroadPktSent,BytesReceived,BytesSent,MultiPktReceived\r\n" +
				"1364529149,25248,200543250,7682161,890682272\r\n" +
				"1464639150,25249,200553250,7683161,900683272\r\n" +
				"1564749151,25255,200559350,7684133,910682272\r\n" +
				"1664859152,25252,200653267,7685167,9705982277\r\n"},
		{"defaults", []bulkdata.Report{row(5, "1", "2", "3", "4")}, bulkdata.CSVOptions{},
			"ReportTimestamp,BroadPktSent,BytesReceived,BytesSent,MultiPktReceived\n5,1,2,3,4\n"},
		{"ISO-8601, separators and escaping", []bulkdata.Report{{Time: time.Date(2015, 11, 1, 11, 12, 13, 0, time.UTC), Values: []bulkdata.Value{
			{Name: "A", Value: `x;y`}, {Name: "B", Value: `say 'hi'`}, {Name: "C", Value: "l1\nl2"}, {Name: "D", Value: "1,2", Type: schema.BaseInt, List: true}}}},
			bulkdata.CSVOptions{FieldSeparator: ";", RowSeparator: "\n", EscapeCharacter: "'", ReportFormat: "ParameterPerRow", Timestamp: "ISO-8601"},
			"ReportTimestamp;ParameterName;ParameterValue;ParameterType\n" +
				"2015-11-01T11:12:13Z;A;'x;y';string\n" +
				"2015-11-01T11:12:13Z;B;'say ''hi''';string\n" +
				"2015-11-01T11:12:13Z;C;'l1\nl2';string\n" +
				"2015-11-01T11:12:13Z;D;1,2;string\n"},
		{"no timestamp", []bulkdata.Report{row(5, "1", "2", "3", "4")}, bulkdata.CSVOptions{Timestamp: "None"},
			"BroadPktSent,BytesReceived,BytesSent,MultiPktReceived\n1,2,3,4\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := string(bulkdata.EncodeCSV(nil, tc.reports, tc.opt)); got != tc.want {
				t.Errorf("got\n%q\nwant\n%q", got, tc.want)
			}
		})
	}
}
