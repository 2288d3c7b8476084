package bulkdata

import (
	"context"
	"fmt"
	"html"
	"strconv"
	"strings"
	"time"

	"github.com/uspkit/uspkit/datamodel"
)

// profile is one Device.BulkData.Profile.{i} as the scheduler uses it.
type profile struct {
	Path          string // "Device.BulkData.Profile.1."
	Controller    string // Profile.{i}.Controller
	Enable        bool
	Protocol      string
	Encoding      string
	Interval      uint32
	TimeReference time.Time
	Retain        int
	Params        []paramRef
	URIParams     []uriParam
	JSON          JSONOptions
	CSV           CSVOptions
	HTTP          httpSettings
	MQTT          mqttSettings
}

// httpSettings are a profile's HTTP object.
type httpSettings struct {
	URL, Username, Password string
	Gzip                    bool
	Method                  string
	DateHeader              bool
	Retry                   bool
	RetryMin                uint32 // seconds
	RetryMultiplier         uint32 // thousandths
	Persist                 bool   // PersistAcrossReboot
}

// key identifies the profile's configuration: a worker whose profile
// changed is replaced.
func (p *profile) key() string { return fmt.Sprintf("%+v", *p) }

func (p *profile) encode(reports []Report) []byte {
	if p.Encoding == EncodingCSV {
		return EncodeCSV(nil, reports, p.CSV)
	}
	return EncodeJSON(nil, reports, p.JSON)
}

// load reads every profile from eng (Secured values as they are: the
// Agent sends the HTTP password itself).
func (s *Service) load(ctx context.Context, eng *datamodel.Engine) map[string]*profile {
	res := eng.Get(ctx, datamodel.Caller{ReadSecured: true}, []string{pathProfiles}, 0)
	out := map[string]*profile{}
	if len(res) == 0 || res[0].Err != nil {
		return out
	}
	get := func(path string) *profile {
		rest := strings.TrimPrefix(path, pathProfiles)
		i := strings.IndexByte(rest, '.')
		if i < 0 {
			return nil
		}
		pp := pathProfiles + rest[:i+1]
		p := out[pp]
		if p == nil {
			p = &profile{Path: pp}
			out[pp] = p
		}
		return p
	}
	for _, o := range res[0].Objects {
		p := get(o.Path)
		if p == nil {
			continue
		}
		v := o.Params
		switch sub := strings.TrimPrefix(o.Path, p.Path); {
		case sub == "":
			p.Enable = v["Enable"] == "true" || v["Enable"] == "1"
			p.Protocol, p.Encoding, p.Controller = v["Protocol"], v["EncodingType"], v["Controller"]
			n, _ := strconv.ParseUint(v["ReportingInterval"], 10, 32)
			p.Interval = max(uint32(n), 1, s.opt.MinReportingInterval)
			p.TimeReference, _ = time.Parse(time.RFC3339, v["TimeReference"])
			p.Retain, _ = strconv.Atoi(v["NumberOfRetainedFailedReports"])
		case strings.HasPrefix(sub, "Parameter."):
			p.Params = append(p.Params, paramRef{Name: v["Name"], Reference: v["Reference"], Exclude: v["Exclude"] == "true" || v["Exclude"] == "1"})
		case sub == "CSVEncoding.":
			p.CSV = CSVOptions{FieldSeparator: unescape(v["FieldSeparator"]), RowSeparator: unescape(v["RowSeparator"]),
				EscapeCharacter: unescape(v["EscapeCharacter"]), ReportFormat: v["ReportFormat"], Timestamp: v["RowTimestamp"]}
		case sub == "JSONEncoding.":
			p.JSON = JSONOptions{ReportFormat: v["ReportFormat"], Timestamp: v["ReportTimestamp"]}
		case sub == "HTTP.":
			m, _ := strconv.ParseUint(v["RetryMinimumWaitInterval"], 10, 32)
			k, _ := strconv.ParseUint(v["RetryIntervalMultiplier"], 10, 32)
			p.HTTP = httpSettings{URL: v["URL"], Username: v["Username"], Password: v["Password"], Gzip: v["Compression"] == "GZIP",
				Method: v["Method"], DateHeader: v["UseDateHeader"] != "false" && v["UseDateHeader"] != "0",
				Retry: v["RetryEnable"] == "true" || v["RetryEnable"] == "1", RetryMin: uint32(max(m, 1)), RetryMultiplier: uint32(max(k, 1000)),
				Persist: v["PersistAcrossReboot"] == "true" || v["PersistAcrossReboot"] == "1"}
		case sub == "MQTT.":
			p.MQTT = loadMQTT(v)
		case strings.HasPrefix(sub, "HTTP.RequestURIParameter."):
			if v["Reference"] != "" {
				p.URIParams = append(p.URIParams, uriParam{Name: v["Name"], Reference: v["Reference"]})
			}
		}
	}
	for _, p := range out {
		p.Params = nonEmpty(p.Params)
	}
	return out
}

func nonEmpty(ps []paramRef) []paramRef {
	out := ps[:0]
	for _, p := range ps {
		if p.Reference != "" {
			out = append(out, p)
		}
	}
	return out
}

// unescape turns XML character references ("&#13;&#10;", "&quot;"),
// the way TR-369 Annex A writes separators, into the characters.
func unescape(s string) string {
	if strings.IndexByte(s, '&') < 0 {
		return s
	}
	return html.UnescapeString(s)
}

// controllersRefresh is how often the Controller table is read again for
// Profile.{i}.Controller.
const controllersRefresh = 30 * time.Second

// loadControllers reads which Device.LocalAgent.Controller row has which
// Endpoint ID; a model without the table leaves the map empty.
func (s *Service) loadControllers(ctx context.Context, eng *datamodel.Engine) {
	res := eng.Get(ctx, datamodel.Caller{}, []string{"Device.LocalAgent.Controller.*.EndpointID"}, 0)
	m := map[string]string{}
	if len(res) == 1 && res[0].Err == nil {
		for _, o := range res[0].Objects {
			if id := o.Params["EndpointID"]; id != "" {
				m[id] = strings.TrimSuffix(o.Path, ".") // a reference names the row without the dot
			}
		}
	}
	s.mu.Lock()
	s.ctrls = m
	s.mu.Unlock()
}
