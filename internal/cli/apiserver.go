//go:build !usp_device

package cli

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/uspkit/uspkit/internal/netlimit"
)

// apiConfig is the `api` key of the controller configuration: the REST
// API's TLS and connection limits.
type apiConfig struct {
	// TLS turns HTTPS on.
	TLS *apiTLSConfig `yaml:"tls"`
	// MaxConns and MaxConnsPerSource cap open connections, in all and per
	// source address; 0 means 256 and 32, negative means no cap.
	MaxConns          int `yaml:"max_conns"`
	MaxConnsPerSource int `yaml:"max_conns_per_source"`
	// FilesURL is the base URL Agents fetch the Controller's file store
	// at (https://host:port); empty: the address the API was called at.
	FilesURL string `yaml:"files_url"`
}

// filesURL returns the configured file-store URL, or "".
func (c *apiConfig) filesURL() string {
	if c == nil {
		return ""
	}
	return c.FilesURL
}

// apiTLSConfig is the API's certificate, and the CA its clients'
// certificates must chain to when client certificates are required.
type apiTLSConfig struct {
	Cert     string `yaml:"cert"`
	Key      string `yaml:"key"`
	ClientCA string `yaml:"client_ca"`
}

// The API's limits; see docs/security.md for the file-descriptor budget
// they make.
const (
	apiMaxConns          = 256
	apiMaxConnsPerSource = 32
	apiReadHeaderTimeout = 10 * time.Second
	apiReadTimeout       = 30 * time.Second // headers and a body of at most 1 MiB
	apiWriteTimeout      = 60 * time.Second // the API extends it for USP requests and streams
	apiIdleTimeout       = 60 * time.Second
	apiMaxHeaderBytes    = 64 << 10
)

// apiCAFile is the file in the data directory holding the certificate
// the CLI verbs trust for an HTTPS API (USP_CA overrides it).
const apiCAFile = "api-ca.pem"

// apiServer listens on addr for the REST API, with the limits above and,
// when cfg.TLS is set, HTTPS (and, when it has a client_ca, client
// certificates on every path but the collector's and the file store's). It writes the API's certificate chain to dataDir/api-ca.pem
// for the CLI verbs. The caller serves hs on ln.
func apiServer(addr string, cfg *apiConfig, dataDir string, h http.Handler, log *slog.Logger) (hs *http.Server, ln net.Listener, url string, err error) {
	if cfg == nil {
		cfg = &apiConfig{}
	}
	tc, err := cfg.TLS.build(dataDir)
	if err != nil {
		return nil, nil, "", err
	}
	tcp, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, nil, "", err
	}
	lim := &netlimit.Options{MaxConns: cfg.MaxConns, MaxPerSource: cfg.MaxConnsPerSource, Logger: log}
	if lim.MaxConns == 0 {
		lim.MaxConns = apiMaxConns
	}
	if lim.MaxPerSource == 0 {
		lim.MaxPerSource = apiMaxConnsPerSource
	}
	ln = netlimit.Wrap(tcp, lim)
	url = "http://" + tcp.Addr().String()
	if tc != nil {
		ln, url = tls.NewListener(ln, tc), "https://"+tcp.Addr().String()
		if tc.ClientCAs != nil {
			h = requireClientCert(h, log)
		}
	}
	hs = &http.Server{Handler: h, ReadHeaderTimeout: apiReadHeaderTimeout, ReadTimeout: apiReadTimeout,
		WriteTimeout: apiWriteTimeout, IdleTimeout: apiIdleTimeout, MaxHeaderBytes: apiMaxHeaderBytes,
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelDebug)}
	return hs, ln, url, nil
}

// build loads the API's TLS configuration and publishes its certificate
// chain in dataDir for the CLI verbs; nil for plain HTTP.
func (t *apiTLSConfig) build(dataDir string) (*tls.Config, error) {
	if t == nil {
		return nil, nil
	}
	if t.Cert == "" || t.Key == "" {
		return nil, errors.New("api.tls: cert and key are required")
	}
	cert, err := tls.LoadX509KeyPair(t.Cert, t.Key)
	if err != nil {
		return nil, fmt.Errorf("api.tls.cert: %w", err)
	}
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12, NextProtos: []string{"h2", "http/1.1"}}
	if t.ClientCA != "" {
		pem, err := os.ReadFile(t.ClientCA)
		if err != nil {
			return nil, fmt.Errorf("api.tls.client_ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("api.tls.client_ca: no certificate in %s", t.ClientCA)
		}
		// Asked for, not demanded: Agents reach the collector and the
		// file store on this listener without one; requireClientCert
		// demands it on the API and UI paths.
		cfg.ClientCAs, cfg.ClientAuth = pool, tls.VerifyClientCertIfGiven
	}
	chain, err := os.ReadFile(t.Cert)
	if err != nil {
		return nil, fmt.Errorf("api.tls.cert: %w", err)
	}
	if err := writePrivate(filepath.Join(dataDir, apiCAFile), chain); err != nil {
		return nil, fmt.Errorf("api.tls: %w", err)
	}
	return cfg, nil
}

// writePrivate writes a file of mode 0600, whatever mode it had.
func writePrivate(path string, b []byte) error {
	if err := os.WriteFile(path, b, 0o600); err != nil {
		return err
	}
	return os.Chmod(path, 0o600)
}

// apiHTTPClient is the CLI verbs' HTTP client: it trusts the system's
// roots and the API certificate in $USP_CA or dataDir/api-ca.pem, and
// presents $USP_CERT/$USP_KEY when both are set.
func apiHTTPClient(dataDir string) (*http.Client, error) {
	caFile := os.Getenv("USP_CA")
	if caFile == "" {
		caFile = filepath.Join(dataDir, apiCAFile)
		if _, err := os.Stat(caFile); err != nil {
			caFile = ""
		}
	}
	cert, key := os.Getenv("USP_CERT"), os.Getenv("USP_KEY")
	if caFile == "" && (cert == "" || key == "") {
		return http.DefaultClient, nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if caFile != "" {
		pool, err := x509.SystemCertPool()
		if err != nil {
			pool = x509.NewCertPool()
		}
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("USP_CA: %w", err)
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("USP_CA: no certificate in %s", caFile)
		}
		cfg.RootCAs = pool
	}
	if cert != "" && key != "" {
		c, err := tls.LoadX509KeyPair(cert, key)
		if err != nil {
			return nil, fmt.Errorf("USP_CERT/USP_KEY: %w", err)
		}
		cfg.Certificates = []tls.Certificate{c}
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = cfg
	return &http.Client{Transport: tr}, nil
}

// apiTLSFlags adds --api-cert, --api-key and --api-client-ca to fs; the
// returned func gives the API configuration they make (nil: plain HTTP).
func apiTLSFlags(fs *flag.FlagSet) func() *apiConfig {
	cert := fs.String("api-cert", "", "serve the REST API over HTTPS with this certificate `file` (PEM, with --api-key)")
	key := fs.String("api-key", "", "private key `file` of --api-cert")
	ca := fs.String("api-client-ca", "", "require API and web UI clients to present a certificate issued by this CA `file` (Agents reach /bulkdata/ and /files/ without one)")
	return func() *apiConfig {
		if *cert == "" && *key == "" && *ca == "" {
			return nil
		}
		return &apiConfig{TLS: &apiTLSConfig{Cert: *cert, Key: *key, ClientCA: *ca}}
	}
}

// connLimits caps a WebSocket server's connections, in all and per source
// address (ws.Options.MaxConns, MaxConnsPerSource): 0 means 512 and 64,
// negative means no cap. Agents behind one NAT address share the
// per-source cap.
type connLimits struct {
	MaxConns          int `yaml:"max_conns"`
	MaxConnsPerSource int `yaml:"max_conns_per_source"`
}
