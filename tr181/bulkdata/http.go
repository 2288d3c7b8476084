package bulkdata

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"net/url"
	"time"
)

// sendHTTP delivers body to the profile's collector [TR-369 Annex A.1]:
// the URL with the device identity (oui, pc, sn) and the
// RequestURIParameter values as query parameters [R-BULK.1], the media
// type with its charset [R-BULK.7], the BBF-Report-Format header
// [R-BULK.8], a Date header and gzip when configured, Basic or Digest
// credentials when a Username is set (TR-181 asks for both). Without RetryEnable one attempt is made; with
// it, failures are retried after the waits of retryWait until one
// succeeds or the next one would start after until [R-BULK.2],
// [R-BULK.3]; each transfer starts counting from zero [R-BULK.4].
func (s *Service) sendHTTP(ctx context.Context, p *profile, body []byte, query [][2]string, until time.Time) error {
	u, err := url.Parse(p.HTTP.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("HTTP.URL %q is not an http or https URL", p.HTTP.URL)
	}
	q := u.Query()
	for _, kv := range query {
		q.Add(kv[0], kv[1])
	}
	u.RawQuery = q.Encode()
	if p.HTTP.Gzip {
		var b bytes.Buffer
		zw := gzip.NewWriter(&b)
		zw.Write(body) // a bytes.Buffer does not fail
		zw.Close()
		body = b.Bytes()
	}
	for n := 1; ; n++ {
		err = s.post(ctx, p, u.String(), body)
		if err == nil || !p.HTTP.Retry {
			return err
		}
		wait := retryWait(n, p.HTTP.RetryMin, p.HTTP.RetryMultiplier, rand.Float64())
		if !s.opt.Now().Add(wait).Before(until) {
			return fmt.Errorf("%w (gave up after %d attempts: the next report is due)", err, n)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

// retryWait is the wait before retry n (1 for the first): a time between
// m·(k/1000)^(n-1) and m·(k/1000)^n seconds, chosen by r in [0,1); from
// the tenth retry on the range stays that of the tenth [R-BULK.3].
func retryWait(n int, m, k uint32, r float64) time.Duration {
	n = min(n, 10)
	f := float64(k) / 1000
	lo := float64(m) * math.Pow(f, float64(n-1))
	hi := float64(m) * math.Pow(f, float64(n))
	return time.Duration((lo + r*(hi-lo)) * float64(time.Second))
}

// post sends one attempt. With a Username it sends Basic credentials, or
// answers a Digest challenge (RFC 7616, MD5 or SHA-256) with a second
// request; a profile whose collector asked for Digest once asks for the
// challenge first from then on, without sending Basic.
func (s *Service) post(ctx context.Context, p *profile, target string, body []byte) error {
	s.mu.Lock()
	digest := s.digest[p.Path]
	s.mu.Unlock()
	resp, err := s.send(ctx, p, target, body, "", p.HTTP.Username != "" && !digest)
	if err != nil {
		return err
	}
	if resp.StatusCode == http.StatusUnauthorized && p.HTTP.Username != "" {
		if c, ok := parseDigest(resp.Header.Get("WWW-Authenticate")); ok {
			s.mu.Lock()
			s.digest[p.Path] = true
			s.mu.Unlock()
			u, _ := url.Parse(target)
			auth := c.authorization(p.HTTP.Username, p.HTTP.Password, method(p), u.RequestURI(), "")
			if resp, err = s.send(ctx, p, target, body, auth, false); err != nil {
				return err
			}
		}
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("collector answered %s", resp.Status)
	}
	return nil
}

func method(p *profile) string {
	if p.HTTP.Method == "" {
		return http.MethodPost
	}
	return p.HTTP.Method
}

// send makes one request and reads the answer's body away.
func (s *Service) send(ctx context.Context, p *profile, target string, body []byte, auth string, basic bool) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method(p), target, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	ctype, format := contentType(p.Encoding, p.JSON, p.CSV)
	req.Header.Set("Content-Type", ctype)
	req.Header.Set("BBF-Report-Format", `"`+format+`"`)
	if p.HTTP.DateHeader {
		req.Header.Set("Date", s.opt.Now().UTC().Format(http.TimeFormat))
	}
	if p.HTTP.Gzip {
		req.Header.Set("Content-Encoding", "gzip")
	}
	if basic {
		req.SetBasicAuth(p.HTTP.Username, p.HTTP.Password)
	}
	resp, err := s.opt.Client.Do(req)
	if err != nil {
		return nil, err
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	return resp, nil
}
