package sim

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/uspkit/uspkit/schema"
	"github.com/uspkit/uspkit/tr181/bulkdata"
)

// BulkData makes simulated Agents send Bulk Data reports over HTTP, as an
// Agent's Device.BulkData.Profile with Protocol HTTP does (TR-369 Annex
// A): each Agent POSTs a report of Params parameters every Interval to
// URL + "/bulkdata/" + its Endpoint ID, with the credentials Login gives.
type BulkData struct {
	// URL is the collector's base URL ("http://127.0.0.1:8080").
	URL string
	// Login returns Agent id's Basic credentials; nil sends none.
	Login func(id string) (user, password string)
	// Interval is each Agent's reporting interval; 0 means 60 s. The
	// Agents' first reports are spread over one interval.
	Interval time.Duration
	// Params is the number of parameters per report; 0 means 20.
	Params int
	// Encoding is "JSON" (default, NameValuePair) or "CSV"
	// (ParameterPerRow).
	Encoding string
	// Gzip compresses the bodies.
	Gzip bool
	// Reports, if positive, stops each Agent after that many reports.
	Reports int
	// Client sends the reports; nil means a client with a 30 s timeout and
	// at most 128 connections to the collector.
	Client *http.Client
}

// BulkStats are what a BulkData run sent.
type BulkStats struct {
	Reports, Rows, Failed, Bytes int64
	// P50 and P99 are latencies of the collector's answers.
	P50, P99 time.Duration
}

// RunBulkData sends the reports of Agents ids until ctx ends or each has
// sent b.Reports, and returns the totals.
func RunBulkData(ctx context.Context, b BulkData, ids []string) BulkStats {
	if b.Interval <= 0 {
		b.Interval = time.Minute
	}
	if b.Params <= 0 {
		b.Params = 20
	}
	if b.Client == nil {
		b.Client = &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxConnsPerHost: 128, MaxIdleConnsPerHost: 128}}
	}
	var st BulkStats
	var reports, rows, failed, size atomic.Int64
	var mu sync.Mutex
	var lat []time.Duration
	var wg sync.WaitGroup
	for i, id := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			offset := b.Interval * time.Duration(i) / time.Duration(len(ids))
			t := time.NewTimer(offset)
			defer t.Stop()
			for n := 0; b.Reports <= 0 || n < b.Reports; n++ {
				select {
				case <-ctx.Done():
					return
				case <-t.C:
				}
				t.Reset(b.Interval)
				body, ctype := b.report(n)
				start := time.Now()
				err := b.post(ctx, id, body, ctype)
				d := time.Since(start)
				if err != nil {
					if ctx.Err() != nil {
						return
					}
					failed.Add(1)
					continue
				}
				reports.Add(1)
				rows.Add(int64(b.Params))
				size.Add(int64(len(body)))
				mu.Lock()
				lat = append(lat, d)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	st.Reports, st.Rows, st.Failed, st.Bytes = reports.Load(), rows.Load(), failed.Load(), size.Load()
	slices.Sort(lat)
	if len(lat) > 0 {
		st.P50, st.P99 = lat[len(lat)/2], lat[min(len(lat)-1, len(lat)*99/100)]
	}
	return st
}

// report encodes report n: counters that grow with n.
func (b BulkData) report(n int) (body []byte, ctype string) {
	vals := make([]bulkdata.Value, b.Params)
	for i := range vals {
		vals[i] = bulkdata.Value{Name: "Device.Sim.Stats." + strconv.Itoa(i+1) + ".BytesSent", Value: strconv.Itoa(n*1000 + i), Type: schema.BaseUnsignedLong}
	}
	r := []bulkdata.Report{{Time: time.Now(), Values: vals}}
	if b.Encoding == "CSV" {
		return bulkdata.EncodeCSV(nil, r, bulkdata.CSVOptions{ReportFormat: bulkdata.FormatParameterPerRow}), "text/csv; charset=UTF-8; header=present"
	}
	return bulkdata.EncodeJSON(nil, r, bulkdata.JSONOptions{ReportFormat: bulkdata.FormatNameValuePair}), "application/json; charset=UTF-8"
}

func (b BulkData) post(ctx context.Context, id string, body []byte, ctype string) error {
	if b.Gzip {
		var z bytes.Buffer
		w := gzip.NewWriter(&z)
		w.Write(body)
		w.Close()
		body = z.Bytes()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimSuffix(b.URL, "/")+"/bulkdata/"+url.PathEscape(id), bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", ctype)
	if b.Gzip {
		req.Header.Set("Content-Encoding", "gzip")
	}
	if b.Login != nil {
		req.SetBasicAuth(b.Login(id))
	}
	resp, err := b.Client.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("collector answered %s", resp.Status)
	}
	return nil
}
