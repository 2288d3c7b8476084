package softwaremodules

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"

	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/uspkit/uspkit/usperr"
)

// fetch copies the Deployment Unit at rawURL (http, https or file) into
// the file dst, at most max bytes, with bounded memory. Its errors carry
// the DUStateChange! fault code: 7004 for credentials in the URL, 7033
// for a server that cannot be reached or does not have the file, 7034 for
// a TLS failure, 7227 for a file over max.
func fetch(ctx context.Context, client *http.Client, rawURL, user, pass, dst string, max int64) error {
	u, err := url.Parse(rawURL)
	if err != nil {
		return usperr.Errorf(CodeInvalidArguments, "URL: %v", err)
	}
	if u.User != nil {
		// TR-181 DUStateChange! FaultCode: userinfo in the URL is 7004.
		return usperr.Errorf(CodeInvalidArguments, "the URL carries credentials; give Username and Password instead")
	}
	var body io.ReadCloser
	switch u.Scheme {
	case "file":
		f, err := os.Open(u.Path)
		if err != nil {
			return usperr.Errorf(CodeServerUnreachable, "%s: %v", u.Path, err)
		}
		body = f
	case "http", "https":
		body, err = get(ctx, client, u, user, pass)
		if err != nil {
			return err
		}
	default:
		return usperr.Errorf(CodeInvalidArguments, "URL scheme %q is not http, https or file", u.Scheme)
	}
	defer body.Close()
	f, err := os.OpenFile(dst, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	n, err := io.Copy(f, io.LimitReader(body, max+1))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	switch {
	case err != nil && ctx.Err() != nil:
		return usperr.Errorf(CodeServerUnreachable, "transfer interrupted: %v", ctx.Err())
	case err != nil:
		return usperr.Errorf(CodeServerUnreachable, "transfer failed: %v", err)
	case n > max:
		return usperr.Errorf(CodeResourcesExceeded, "the file is over %d bytes", max)
	}
	return nil
}

func get(ctx context.Context, client *http.Client, u *url.URL, user, pass string) (io.ReadCloser, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, usperr.Errorf(CodeInvalidArguments, "URL: %v", err)
	}
	if user != "" || pass != "" {
		req.SetBasicAuth(user, pass)
	}
	resp, err := client.Do(req)
	if err != nil {
		if isTLSError(err) {
			return nil, usperr.Errorf(CodeServerInsecure, "%s: %v", u.Redacted(), err)
		}
		return nil, usperr.Errorf(CodeServerUnreachable, "%s: %v", u.Redacted(), err)
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		return nil, usperr.Errorf(CodeServerUnreachable, "%s: HTTP status %s", u.Redacted(), resp.Status)
	}
	return resp.Body, nil
}

func isTLSError(err error) bool {
	var (
		rec  tls.RecordHeaderError
		unk  x509.UnknownAuthorityError
		host x509.HostnameError
		inv  x509.CertificateInvalidError
		ver  *tls.CertificateVerificationError
	)
	if errors.As(err, &rec) || errors.As(err, &unk) || errors.As(err, &host) || errors.As(err, &inv) || errors.As(err, &ver) {
		return true
	}
	var op *net.OpError
	return errors.As(err, &op) && strings.Contains(op.Error(), "tls")
}

// defaultClient is used when Options.Client is nil.
func defaultClient() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.ResponseHeaderTimeout = 60 * time.Second
	return &http.Client{Transport: t}
}
