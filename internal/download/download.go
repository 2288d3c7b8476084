package download

import (
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Request is one file to fetch, with the inputs of TR-181's Download()
// commands.
type Request struct {
	// URL is http://, https:// or file://.
	URL string
	// Username and Password are sent as HTTP Basic credentials when
	// Username is not "".
	Username, Password string
	// FileSize is the expected size in bytes; 0 means unknown.
	FileSize int64
	// CheckSumAlgorithm is "", "SHA-1", "SHA-224", "SHA-256", "SHA-384"
	// or "SHA-512"; CheckSum is the expected digest in hex.
	CheckSumAlgorithm, CheckSum string
}

// Options tune Fetch; nil means the defaults below.
type Options struct {
	// TLS is the client's TLS configuration; nil means the system roots.
	TLS *tls.Config
	// Attempts is the number of tries for failures that may pass
	// (connection errors, 5xx, timeouts); 0 means 3.
	Attempts int
	// Backoff is the wait before the second try, doubled for each later
	// one; 0 means 1 s.
	Backoff time.Duration
	// Stall is how long a transfer may go without receiving a byte
	// (including the wait for the response headers); 0 means 30 s.
	Stall time.Duration
	// MaxSize bounds the file; 0 means no bound but FileSize.
	MaxSize int64
	// Progress, if not nil, is called with the bytes on disk after each
	// buffer written.
	Progress func(done, total int64)
	// Logger receives one line per failed attempt; nil means discard.
	Logger *slog.Logger
}

// Fault classifies a failure, for the caller's fault code.
type Fault int

// Faults.
const (
	// FaultTransfer: the server could not be reached, answered with an
	// error status, or the transfer stalled or broke off.
	FaultTransfer Fault = iota + 1
	// FaultAuth: the server refused the credentials (401, 403).
	FaultAuth
	// FaultProtocol: the URL's scheme is not supported, or the URL is
	// malformed.
	FaultProtocol
	// FaultNotFound: the server has no such file (404, 410, missing file).
	FaultNotFound
	// FaultTLS: the server's certificate was not trusted or the TLS
	// handshake failed.
	FaultTLS
	// FaultSize: the file's size is not the Request's FileSize.
	FaultSize
	// FaultChecksum: the digest does not match, or the algorithm or
	// expected value is not usable.
	FaultChecksum
	// FaultStorage: the file could not be written (disk full, permission).
	FaultStorage
	// FaultCanceled: ctx ended.
	FaultCanceled
	// FaultTooLarge: the file (or the FileSize asked for) exceeds
	// Options.MaxSize.
	FaultTooLarge
)

var faultNames = [...]string{"?", "transfer", "authentication", "protocol", "not found", "tls", "size", "checksum", "storage", "canceled", "too large"}

func (f Fault) String() string {
	if f > 0 && int(f) < len(faultNames) {
		return faultNames[f]
	}
	return "fault?"
}

// Error is a failed Fetch.
type Error struct {
	Fault Fault
	Msg   string
	Err   error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return "download: " + e.Msg + ": " + e.Err.Error()
	}
	return "download: " + e.Msg
}

func (e *Error) Unwrap() error { return e.Err }

func fail(f Fault, err error, format string, args ...any) *Error {
	return &Error{Fault: f, Msg: fmt.Sprintf(format, args...), Err: err}
}

// newHash returns the hash of a TR-181 CheckSumAlgorithm name.
func newHash(alg string) (hash.Hash, error) {
	switch alg {
	case "SHA-1":
		return sha1.New(), nil
	case "SHA-224":
		return sha256.New224(), nil
	case "SHA-256":
		return sha256.New(), nil
	case "SHA-384":
		return sha512.New384(), nil
	case "SHA-512":
		return sha512.New(), nil
	}
	return nil, fmt.Errorf("unknown algorithm %q", alg)
}

// partMeta is kept next to a partial file so that only a transfer of the
// same URL resumes it.
type partMeta struct {
	URL  string `json:"url"`
	ETag string `json:"etag,omitempty"`
}

// Fetch fetches r into dst and returns its size. Data go to dst+".part"
// first (with dst+".part.json" naming the URL), which a later Fetch of
// the same URL resumes with a Range request; dst appears, by rename, only
// after the size and checksum have been checked. Memory use does not grow
// with the file. Every error is an *Error.
func Fetch(ctx context.Context, r Request, dst string, o *Options) (int64, error) {
	if o == nil {
		o = &Options{}
	}
	attempts, backoff := o.Attempts, o.Backoff
	if attempts <= 0 {
		attempts = 3
	}
	if backoff <= 0 {
		backoff = time.Second
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := checkRequest(r, o); err != nil {
		return 0, err
	}
	u, _ := url.Parse(r.URL)
	var err error
	for i := range attempts {
		if i > 0 {
			t := time.NewTimer(backoff << (i - 1))
			select {
			case <-ctx.Done():
				t.Stop()
				return 0, fail(FaultCanceled, ctx.Err(), "canceled")
			case <-t.C:
			}
		}
		if u.Scheme == "file" {
			err = copyFile(ctx, u, r, dst, o)
		} else {
			err = fetchHTTP(ctx, r, dst, o)
		}
		var e *Error
		if err == nil || !errors.As(err, &e) || !retryable(e) || ctx.Err() != nil {
			break
		}
		log.WarnContext(ctx, "download attempt failed", "url", redact(u), "attempt", i+1, "err", err)
	}
	if err != nil {
		if ctx.Err() != nil {
			return 0, fail(FaultCanceled, ctx.Err(), "canceled")
		}
		return 0, err
	}
	return finish(r, dst, o)
}

func retryable(e *Error) bool { return e.Fault == FaultTransfer }

func redact(u *url.URL) string {
	c := *u
	c.User = nil
	return c.String()
}

// checkRequest refuses what no transfer could satisfy.
func checkRequest(r Request, o *Options) error {
	u, err := url.Parse(r.URL)
	if err != nil || u.Scheme == "" {
		return fail(FaultProtocol, err, "malformed URL %q", r.URL)
	}
	switch u.Scheme {
	case "http", "https":
		if u.Host == "" {
			return fail(FaultProtocol, nil, "URL %q has no host", r.URL)
		}
	case "file":
	default:
		return fail(FaultProtocol, nil, "unsupported scheme %q", u.Scheme)
	}
	if r.CheckSumAlgorithm != "" || r.CheckSum != "" {
		h, err := newHash(r.CheckSumAlgorithm)
		if err != nil {
			return fail(FaultChecksum, err, "checksum")
		}
		if b, err := hex.DecodeString(r.CheckSum); err != nil || len(b) != h.Size() {
			return fail(FaultChecksum, err, "checksum %q is not a %s digest", r.CheckSum, r.CheckSumAlgorithm)
		}
	}
	if r.FileSize < 0 {
		return fail(FaultSize, nil, "file size %d", r.FileSize)
	}
	if o.MaxSize > 0 && r.FileSize > o.MaxSize {
		return fail(FaultTooLarge, nil, "file size %d beyond the limit %d", r.FileSize, o.MaxSize)
	}
	return nil
}

// overFault is the fault of a file longer than limit(r, o): the limit is
// the FileSize asked for, else MaxSize.
func overFault(r Request) Fault {
	if r.FileSize > 0 {
		return FaultSize
	}
	return FaultTooLarge
}

// limit is the largest file accepted.
func limit(r Request, o *Options) int64 {
	if r.FileSize > 0 {
		return r.FileSize
	}
	if o.MaxSize > 0 {
		return o.MaxSize
	}
	return 1<<63 - 1
}

func fetchHTTP(ctx context.Context, r Request, dst string, o *Options) error {
	stall := o.Stall
	if stall <= 0 {
		stall = 30 * time.Second
	}
	part := dst + ".part"
	have, meta := resumable(part, r.URL)
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	watch := newWatchdog(stall, func() { cancel(errStalled) })
	defer watch.stop()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.URL, nil)
	if err != nil {
		return fail(FaultProtocol, err, "request")
	}
	if r.Username != "" {
		req.SetBasicAuth(r.Username, r.Password)
	}
	if have > 0 {
		req.Header.Set("Range", "bytes="+strconv.FormatInt(have, 10)+"-")
		if meta.ETag != "" {
			req.Header.Set("If-Range", meta.ETag)
		}
	}
	tr := &http.Transport{TLSClientConfig: o.TLS, Proxy: http.ProxyFromEnvironment, ResponseHeaderTimeout: stall, TLSHandshakeTimeout: stall}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		return transportError(ctx, err)
	}
	defer resp.Body.Close()
	appendTo := false
	switch {
	case resp.StatusCode == http.StatusPartialContent && have > 0 && rangeStart(resp) == have:
		appendTo = true
	case resp.StatusCode == http.StatusOK:
		have = 0
	case resp.StatusCode == http.StatusRequestedRangeNotSatisfiable:
		os.Remove(part)
		return fail(FaultTransfer, nil, "server refused the range from %d; starting again", have)
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		return fail(FaultAuth, nil, "server answered %s", resp.Status)
	case resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusGone:
		return fail(FaultNotFound, nil, "server answered %s", resp.Status)
	case resp.StatusCode >= 500:
		return fail(FaultTransfer, nil, "server answered %s", resp.Status)
	default:
		return fail(FaultNotFound, nil, "server answered %s", resp.Status)
	}
	max := limit(r, o)
	if resp.ContentLength >= 0 && have+resp.ContentLength > max {
		return fail(overFault(r), nil, "server announces %d bytes, more than %d", have+resp.ContentLength, max)
	}
	if err := writeMeta(part, partMeta{URL: r.URL, ETag: resp.Header.Get("ETag")}); err != nil {
		return err
	}
	err = writeBody(part, appendTo, have, max, overFault(r), resp.Body, watch, o)
	if err != nil && context.Cause(ctx) == errStalled {
		return fail(FaultTransfer, errStalled, "no data for %s", stall)
	}
	return err
}

var errStalled = errors.New("transfer stalled")

func rangeStart(resp *http.Response) int64 {
	cr := resp.Header.Get("Content-Range") // bytes 100-199/200
	s, ok := strings.CutPrefix(cr, "bytes ")
	if !ok {
		return -1
	}
	s, _, _ = strings.Cut(s, "-")
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return -1
	}
	return n
}

// transportError classifies a failed HTTP exchange.
func transportError(ctx context.Context, err error) error {
	if context.Cause(ctx) == errStalled {
		return fail(FaultTransfer, err, "no answer")
	}
	if ctx.Err() != nil {
		return fail(FaultCanceled, err, "canceled")
	}
	var ce *tls.CertificateVerificationError
	var re tls.RecordHeaderError
	var ae tls.AlertError
	if errors.As(err, &ce) || errors.As(err, &re) || errors.As(err, &ae) || strings.Contains(err.Error(), "tls:") || strings.Contains(err.Error(), "x509:") {
		return fail(FaultTLS, err, "TLS")
	}
	return fail(FaultTransfer, err, "connecting")
}

// resumable returns the size of a partial file left by an earlier
// transfer of the same URL, or 0 (having removed a stale one).
func resumable(part, url string) (int64, partMeta) {
	var m partMeta
	b, err := os.ReadFile(part + ".json")
	if err == nil && json.Unmarshal(b, &m) == nil && m.URL == url {
		if fi, err := os.Stat(part); err == nil {
			return fi.Size(), m
		}
	}
	os.Remove(part)
	os.Remove(part + ".json")
	return 0, partMeta{}
}

func writeMeta(part string, m partMeta) error {
	b, _ := json.Marshal(m)
	if err := os.WriteFile(part+".json", b, 0o600); err != nil {
		return storageError(err)
	}
	return nil
}

func storageError(err error) error {
	if errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) || errors.Is(err, syscall.EFBIG) {
		return fail(FaultStorage, err, "disk full")
	}
	return fail(FaultStorage, err, "writing")
}

// bufSize is the one buffer a transfer uses.
const bufSize = 64 << 10

// writeBody copies body into part (appending after have bytes, or from
// the start), at most max bytes in all (more fails with over).
func writeBody(part string, appendTo bool, have, max int64, over Fault, body io.Reader, watch *watchdog, o *Options) error {
	flags := os.O_WRONLY | os.O_CREATE | os.O_TRUNC
	if appendTo {
		flags = os.O_WRONLY | os.O_APPEND
	} else {
		have = 0
	}
	f, err := os.OpenFile(part, flags, 0o600)
	if err != nil {
		return storageError(err)
	}
	buf := make([]byte, bufSize)
	for {
		n, rerr := body.Read(buf)
		if n > 0 {
			watch.kick()
			if have+int64(n) > max {
				f.Close()
				return fail(over, nil, "more than %d bytes", max)
			}
			if _, err := f.Write(buf[:n]); err != nil {
				f.Close()
				return storageError(err)
			}
			have += int64(n)
			if o.Progress != nil {
				o.Progress(have, max)
			}
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			f.Close()
			return fail(FaultTransfer, rerr, "reading after %d bytes", have)
		}
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return storageError(err)
	}
	if err := f.Close(); err != nil {
		return storageError(err)
	}
	return nil
}

// copyFile copies a file:// URL's file into the partial file.
func copyFile(ctx context.Context, u *url.URL, r Request, dst string, o *Options) error {
	src, err := os.Open(u.Path)
	if errors.Is(err, os.ErrNotExist) {
		return fail(FaultNotFound, err, "no file %s", u.Path)
	}
	if err != nil {
		return fail(FaultAuth, err, "opening %s", u.Path)
	}
	defer src.Close()
	part := dst + ".part"
	os.Remove(part + ".json")
	w := newWatchdog(time.Hour, func() {})
	defer w.stop()
	stop := context.AfterFunc(ctx, func() { src.Close() })
	defer stop()
	return writeBody(part, false, 0, limit(r, o), overFault(r), src, w, o)
}

// finish checks the partial file's size and digest and renames it to dst.
func finish(r Request, dst string, o *Options) (int64, error) {
	part := dst + ".part"
	bad := func(err error) (int64, error) {
		os.Remove(part)
		os.Remove(part + ".json")
		return 0, err
	}
	f, err := os.Open(part)
	if err != nil {
		return bad(storageError(err))
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return bad(storageError(err))
	}
	n := fi.Size()
	if r.FileSize > 0 && n != r.FileSize {
		return bad(fail(FaultSize, nil, "got %d bytes, want %d", n, r.FileSize))
	}
	if o.MaxSize > 0 && n > o.MaxSize {
		return bad(fail(FaultTooLarge, nil, "got %d bytes, more than %d", n, o.MaxSize))
	}
	if r.CheckSumAlgorithm != "" {
		h, _ := newHash(r.CheckSumAlgorithm)
		if _, err := io.CopyBuffer(h, f, make([]byte, bufSize)); err != nil {
			return bad(storageError(err))
		}
		if got := hex.EncodeToString(h.Sum(nil)); !strings.EqualFold(got, r.CheckSum) {
			return bad(fail(FaultChecksum, nil, "%s is %s, want %s", r.CheckSumAlgorithm, got, strings.ToLower(r.CheckSum)))
		}
	}
	if err := os.Rename(part, dst); err != nil {
		return bad(storageError(err))
	}
	os.Remove(part + ".json")
	return n, nil
}
