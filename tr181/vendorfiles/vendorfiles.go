package vendorfiles

import (
	"bytes"
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/uspkit/uspkit/datamodel"
	"github.com/uspkit/uspkit/schema"
	"github.com/uspkit/uspkit/usperr"
)

const (
	pathConfig = "Device.DeviceInfo.VendorConfigFile.{i}."
	pathLog    = "Device.DeviceInfo.VendorLogFile.{i}."
)

// ConfigFile is one vendor configuration file.
type ConfigFile struct {
	Name, Version, Description string
	// UseForBackupRestore says the file is the one Backup() and Restore()
	// act on.
	UseForBackupRestore bool
	// Date returns when the file was last changed; nil reports none.
	Date func() time.Time
	// Backup writes the file's content to w.
	Backup func(ctx context.Context, w io.Writer) error
	// Restore replaces the configuration with data, downloaded whole
	// and checked; nil refuses Restore().
	Restore func(ctx context.Context, data []byte) error
}

// LogFile is one vendor log file.
type LogFile struct {
	Name        string
	MaximumSize uint32
	Persistent  bool
	// Open returns the log's content.
	Open func(ctx context.Context) (io.ReadCloser, error)
}

// Options configure the files served.
type Options struct {
	Config []ConfigFile
	Logs   []LogFile
	// Client makes the transfers; nil means one with a 5-minute timeout.
	Client *http.Client
	// MaxRestore bounds a Restore() download; 0 means 64 MiB.
	MaxRestore int64
	Logger     *slog.Logger
}

// Define adds Device.DeviceInfo.VendorConfigFile.{i} and VendorLogFile.{i},
// and their NumberOfEntries, to m, whose Device.DeviceInfo. must be
// defined. Names, types, access and unique keys are TR-181 Device:2.16's
// (TestModelMatchesTR181).
func Define(m *schema.Model) {
	m.Extend("Device.DeviceInfo.").
		Param("VendorConfigFileNumberOfEntries", schema.UnsignedInt()).
		Param("VendorLogFileNumberOfEntries", schema.UnsignedInt())
	alias := schema.String(schema.Named("Alias"), schema.MaxLen(64))
	url := schema.String(schema.Named("URL"), schema.MaxLen(2048))
	str := func(n int) *schema.Type { return schema.String(schema.MaxLen(n)) }
	m.Define(pathConfig, schema.ObjReadOnly, schema.AliasKey(), schema.Keys("Name"), schema.NumEntries("VendorConfigFileNumberOfEntries")).
		Param("Alias", alias, schema.ReadWrite).
		Param("Name", str(64)).
		Param("Version", str(16)).
		Param("Date", schema.DateTime()).
		Param("Description", str(256)).
		Param("UseForBackupRestore", schema.Boolean()).
		Command("Backup()", true, []*schema.Param{
			schema.Arg("URL", url, schema.Mandatory),
			schema.Arg("Username", str(256), schema.Mandatory),
			schema.Arg("Password", str(256), schema.Mandatory),
		}, nil).
		Command("Restore()", true, []*schema.Param{
			schema.Arg("URL", url, schema.Mandatory),
			schema.Arg("Username", str(256), schema.Mandatory),
			schema.Arg("Password", str(256), schema.Mandatory),
			schema.Arg("FileSize", schema.UnsignedInt()),
			schema.Arg("TargetFileName", str(256)),
			schema.Arg("CheckSumAlgorithm", schema.String(schema.Enum("SHA-1", "SHA-224", "SHA-256", "SHA-384", "SHA-512"))),
			schema.Arg("CheckSum", schema.HexBinary()),
		}, nil)
	m.Define(pathLog, schema.ObjReadOnly, schema.AliasKey(), schema.Keys("Name"), schema.NumEntries("VendorLogFileNumberOfEntries")).
		Param("Alias", alias, schema.ReadWrite).
		Param("Name", str(64)).
		Param("MaximumSize", schema.UnsignedInt()).
		Param("Persistent", schema.Boolean()).
		Command("Upload()", true, []*schema.Param{
			schema.Arg("URL", url, schema.Mandatory),
			schema.Arg("Username", str(256), schema.Mandatory),
			schema.Arg("Password", str(256), schema.Mandatory),
		}, nil)
}

// Files serves the vendor files. Create it with Register.
type Files struct {
	o       Options
	mu      sync.Mutex
	aliases map[string]string // instance path → Alias set by a Controller
	// logs are the VendorLogFile rows by instance number: Options.Logs
	// at 1 onwards, then those AddLog adds.
	logs    map[uint32]LogFile
	nextLog uint32
}

// Register serves the files of o on mux; Define must have added the
// objects to mux's model.
func Register(mux *datamodel.Mux, o Options) *Files {
	if o.Client == nil {
		o.Client = &http.Client{Timeout: 5 * time.Minute}
	}
	if o.MaxRestore <= 0 {
		o.MaxRestore = 64 << 20
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	f := &Files{o: o, aliases: map[string]string{}, logs: map[uint32]LogFile{}}
	for i, l := range o.Logs {
		f.logs[uint32(i+1)] = l
	}
	f.nextLog = uint32(len(o.Logs) + 1)
	mux.Handle(pathConfig, datamodel.HandlerFunc(f.ServeUSP))
	mux.Handle(pathLog, datamodel.HandlerFunc(f.ServeUSP))
	return f
}

// ServeUSP serves both tables.
func (f *Files) ServeUSP(ctx context.Context, w datamodel.ResponseWriter, r *datamodel.Request) error {
	isLog := r.Object.Path == pathLog
	n := len(f.o.Config)
	if r.Op == datamodel.OpList {
		if isLog {
			for _, i := range f.logInstances() {
				w.AddInstance(i)
			}
			return nil
		}
		for i := range n {
			w.AddInstance(uint32(i + 1))
		}
		return nil
	}
	var l LogFile
	switch {
	case len(r.Instances) == 0:
		return usperr.Errorf(usperr.CodeObjectNotFound, "%s does not exist", r.Path)
	case isLog:
		var ok bool
		if l, ok = f.logAt(r.Instances[0]); !ok {
			return usperr.Errorf(usperr.CodeObjectNotFound, "%s does not exist", r.Path)
		}
	case r.Instances[0] < 1 || int(r.Instances[0]) > n:
		return usperr.Errorf(usperr.CodeObjectNotFound, "%s does not exist", r.Path)
	}
	i := int(r.Instances[0]) - 1
	switch r.Op {
	case datamodel.OpGet:
		vals := map[string]string{"Alias": f.alias(r.Path, i)}
		if isLog {
			vals["Name"], vals["MaximumSize"], vals["Persistent"] = l.Name, strconv.FormatUint(uint64(l.MaximumSize), 10), strconv.FormatBool(l.Persistent)
		} else {
			c := f.o.Config[i]
			date := time.Time{}
			if c.Date != nil {
				date = c.Date()
			}
			vals["Name"], vals["Version"], vals["Description"] = c.Name, c.Version, c.Description
			vals["UseForBackupRestore"], vals["Date"] = strconv.FormatBool(c.UseForBackupRestore), date.UTC().Format(time.RFC3339)
		}
		for _, name := range r.Names {
			w.SetValue(name, vals[name])
		}
		return nil
	case datamodel.OpSet:
		if r.CheckOnly {
			return nil
		}
		f.mu.Lock()
		defer f.mu.Unlock()
		if v, ok := r.Values["Alias"]; ok {
			f.aliases[r.Path] = v
		}
		return nil
	case datamodel.OpOperate:
		in := r.Values
		switch {
		case isLog && r.Command.Name == "Upload()":
			return f.upload(ctx, in, func(ctx context.Context, w io.Writer) error {
				rc, err := l.Open(ctx)
				if err != nil {
					return err
				}
				defer rc.Close()
				_, err = io.Copy(w, rc)
				return err
			})
		case !isLog && r.Command.Name == "Backup()":
			return f.upload(ctx, in, f.o.Config[i].Backup)
		case !isLog && r.Command.Name == "Restore()":
			return f.restore(ctx, f.o.Config[i], in)
		}
	}
	return usperr.Errorf(usperr.CodeRequestDenied, "%s: %s is not supported", r.Path, r.Op)
}

// alias returns an instance's Alias: the one set, else cpe-N.
func (f *Files) alias(path string, i int) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	if a, ok := f.aliases[path]; ok {
		return a
	}
	return "cpe-" + strconv.Itoa(i+1)
}

func transferErr(format string, a ...any) error {
	return usperr.Errorf(usperr.CodeCommandFailure, format, a...)
}

// checkURL accepts http and https URLs only.
func checkURL(u string) error {
	if !strings.HasPrefix(u, "http://") && !strings.HasPrefix(u, "https://") {
		return usperr.Errorf(usperr.CodeInvalidCommandArgs, "URL %s: only http and https are supported", usperr.EchoPath(u))
	}
	return nil
}

// upload sends what write produces with a PUT, or a POST when the server
// does not take a PUT (405).
func (f *Files) upload(ctx context.Context, in map[string]string, write func(ctx context.Context, w io.Writer) error) error {
	if write == nil {
		return transferErr("this file cannot be sent")
	}
	if err := checkURL(in["URL"]); err != nil {
		return err
	}
	var status int
	for _, method := range []string{http.MethodPut, http.MethodPost} {
		pr, pw := io.Pipe()
		go func() { pw.CloseWithError(write(ctx, pw)) }()
		req, err := http.NewRequestWithContext(ctx, method, in["URL"], pr)
		if err != nil {
			pr.Close()
			return transferErr("upload: %v", err)
		}
		req.Header.Set("Content-Type", "application/octet-stream")
		if in["Username"] != "" {
			req.SetBasicAuth(in["Username"], in["Password"])
		}
		resp, err := f.o.Client.Do(req)
		pr.Close()
		if err != nil {
			f.o.Logger.WarnContext(ctx, "vendor file upload failed", "url", in["URL"], "err", err)
			return transferErr("upload: %v", err)
		}
		io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
		resp.Body.Close()
		status = resp.StatusCode
		if status != http.StatusMethodNotAllowed {
			break
		}
	}
	if status < 200 || status > 299 {
		f.o.Logger.WarnContext(ctx, "vendor file upload refused", "url", in["URL"], "status", status)
		return transferErr("upload: HTTP %d", status)
	}
	return nil
}

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
	return nil, usperr.Errorf(usperr.CodeInvalidCommandArgs, "CheckSumAlgorithm %q", alg)
}

// restore downloads the file whole, checks it and hands it to the
// configuration file.
func (f *Files) restore(ctx context.Context, c ConfigFile, in map[string]string) error {
	if c.Restore == nil {
		return transferErr("%s cannot be restored", c.Name)
	}
	if err := checkURL(in["URL"]); err != nil {
		return err
	}
	var h hash.Hash
	if alg := in["CheckSumAlgorithm"]; alg != "" || in["CheckSum"] != "" {
		var err error
		if h, err = newHash(alg); err != nil {
			return err
		}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, in["URL"], nil)
	if err != nil {
		return transferErr("download: %v", err)
	}
	if in["Username"] != "" {
		req.SetBasicAuth(in["Username"], in["Password"])
	}
	resp, err := f.o.Client.Do(req)
	if err != nil {
		return transferErr("download: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return transferErr("download: HTTP %d", resp.StatusCode)
	}
	var buf bytes.Buffer
	n, err := io.Copy(&buf, io.LimitReader(resp.Body, f.o.MaxRestore+1))
	switch {
	case err != nil:
		return transferErr("download: %v", err)
	case n > f.o.MaxRestore:
		return transferErr("download: over %d bytes", f.o.MaxRestore)
	}
	if want := in["FileSize"]; want != "" && want != "0" && want != strconv.FormatInt(n, 10) {
		return transferErr("download: %d bytes, FileSize %s", n, want)
	}
	if h != nil {
		h.Write(buf.Bytes())
		if !strings.EqualFold(hex.EncodeToString(h.Sum(nil)), in["CheckSum"]) {
			return transferErr("download: checksum mismatch")
		}
	}
	if err := c.Restore(ctx, buf.Bytes()); err != nil {
		f.o.Logger.WarnContext(ctx, "vendor configuration not restored", "file", c.Name, "err", err)
		var ue *usperr.Error
		if errors.As(err, &ue) {
			return err
		}
		return transferErr("restore: %v", err)
	}
	return nil
}

// LogRing keeps the newest bytes written to it, up to a size: the log of
// an Agent that keeps no log file. It is safe for concurrent use.
type LogRing struct {
	mu  sync.Mutex
	max int
	buf []byte
}

// NewLogRing returns a LogRing of max bytes.
func NewLogRing(max int) *LogRing { return &LogRing{max: max} }

// Write keeps the newest max bytes of what was written, dropping whole
// lines from the start when it must.
func (l *LogRing) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf = append(l.buf, p...)
	if over := len(l.buf) - l.max; over > 0 {
		cut := over
		if i := bytes.IndexByte(l.buf[over:], '\n'); i >= 0 {
			cut = over + i + 1
		}
		l.buf = append(l.buf[:0], l.buf[min(cut, len(l.buf)):]...)
	}
	return len(p), nil
}

// Bytes returns a copy of what is kept.
func (l *LogRing) Bytes() []byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	return bytes.Clone(l.buf)
}

// File describes the ring as a VendorLogFile named name.
func (l *LogRing) File(name string) LogFile {
	return LogFile{Name: name, MaximumSize: uint32(l.max), Open: func(context.Context) (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(l.Bytes())), nil
	}}
}

// String is for logs.
func (l *LogRing) String() string { return fmt.Sprintf("log ring of %d bytes", l.max) }
