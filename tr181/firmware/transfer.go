package firmware

import (
	"context"
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/uspkit/uspkit/datamodel"
	"github.com/uspkit/uspkit/internal/download"
	"github.com/uspkit/uspkit/usperr"
)

// Fault codes of TransferComplete! and of the commands' failures. TR-181
// gives TransferComplete!'s FaultCode as "defined in TR-369", and TR-369
// 1.3's error table ends at 7031 (then 7100-7199 for Records, 7200-7299
// for codes a data model defines, 7800-7999 for vendors); a failed
// command's OperationComplete takes 7002-7008, 7016, 7022, 7023 or a
// vendor code [R-OPR.0]. So a transfer that fails (unreachable server,
// 404, TLS refused, a file not of the FileSize asked for, a checksum
// mismatch, not an image) is 7022 Command failure and its FaultString
// says which; 7033-7035, which TR-181 defines for DUStateChange! only,
// are not used here.
const (
	CodeRequestDenied     uint32 = 7002
	CodeInvalidArguments  uint32 = 7004
	CodeResourcesExceeded uint32 = 7005
	CodePermissionDenied  uint32 = 7006
	CodeCommandFailure    uint32 = 7022
	CodeCommandCanceled   uint32 = 7023
)

// faultCode maps a download failure onto its fault code.
func faultCode(err error) uint32 {
	var e *download.Error
	if !errors.As(err, &e) {
		return usperr.Code(err)
	}
	switch e.Fault {
	case download.FaultAuth:
		return CodePermissionDenied
	case download.FaultProtocol:
		return CodeInvalidArguments
	case download.FaultTooLarge, download.FaultStorage:
		return CodeResourcesExceeded
	case download.FaultCanceled:
		return CodeCommandCanceled
	}
	// FaultTransfer, FaultNotFound, FaultTLS, FaultSize, FaultChecksum.
	return CodeCommandFailure
}

// faultString is the FaultString of err: what failed, so that the
// failures that share 7022 tell themselves apart (a download failure is
// not a usperr error, whose Message would only say "Internal error").
func faultString(err error) string {
	var e *download.Error
	if errors.As(err, &e) {
		return clip(e.Error(), 256)
	}
	return clip(usperr.Message(err), 256)
}

// redact drops the credentials a URL may carry, for the log.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(malformed URL)"
	}
	u.User = nil
	return u.String()
}

// transfer is one Download() for TransferComplete!.
type transfer struct {
	command, key, requestor, url string
	bank                         int
	start                        time.Time
}

// complete sends TransferComplete! for t with err's fault (none for nil).
func (s *Service) complete(ctx context.Context, t transfer, err error) {
	code, msg := uint32(0), ""
	if err != nil {
		code, msg = faultCode(err), faultString(err)
	}
	args := map[string]string{
		"Command": t.command, "CommandKey": t.key, "Requestor": t.requestor, "TransferType": "Download",
		"Affected": imagePath(t.bank), "TransferURL": t.url,
		"StartTime": t.start.UTC().Format(time.RFC3339), "CompleteTime": s.o.Now().UTC().Format(time.RFC3339),
		"FaultCode": strconv.FormatUint(uint64(code), 10), "FaultString": msg,
	}
	s.log.InfoContext(ctx, "transfer complete", "command", t.command, "url", redact(t.url), "fault", code, "msg", msg)
	s.mu.Lock()
	e := s.emit
	s.mu.Unlock()
	if e != nil {
		e.Emit(ctx, EventTransfer, func(string) map[string]string { return args })
	}
}

// claim marks bank busy; it fails when a command already runs on it.
func (s *Service) claim(bank int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.busy[bank] {
		return usperr.Errorf(CodeRequestDenied, "%s has a command in progress", imagePath(bank))
	}
	s.busy[bank] = true
	return nil
}

func (s *Service) release(bank int) {
	s.mu.Lock()
	delete(s.busy, bank)
	s.mu.Unlock()
}

// pending is a Download() in progress, kept in the state so that a
// restart of the Agent continues it (the partial file is resumed with a
// Range request) and still ends it with TransferComplete!.
type pending struct {
	Bank               int
	URL                string
	Username, Password string `json:",omitempty"`
	FileSize           int64
	Alg, Sum           string `json:",omitempty"`
	Key, Requestor     string `json:",omitempty"`
	Auto               bool
	Start              time.Time
}

// downloadCmd is FirmwareImage.{i}.Download(): fetch, write, validate,
// TransferComplete!, then Activate() when AutoActivate.
func (s *Service) downloadCmd(ctx context.Context, w datamodel.ResponseWriter, r *datamodel.Request) error {
	bank := int(r.Instances[len(r.Instances)-1])
	size, _ := strconv.ParseInt(r.Values["FileSize"], 10, 64)
	d := &pending{Bank: bank, URL: r.Values["URL"], Username: r.Values["Username"], Password: r.Values["Password"], FileSize: size,
		Alg: r.Values["CheckSumAlgorithm"], Sum: r.Values["CheckSum"], Key: r.CommandKey, Requestor: r.Caller.EndpointID,
		Auto: r.Values["AutoActivate"] == "true" || r.Values["AutoActivate"] == "1", Start: s.o.Now()}
	t := transfer{command: r.Path + "Download()", key: d.Key, requestor: d.Requestor, url: d.URL, bank: bank, start: d.Start}
	if bank < 1 || bank > s.o.Flash.Banks() {
		return usperr.Errorf(usperr.CodeObjectNotFound, "%s does not exist", r.Path)
	}
	if bank == s.o.Flash.Running() {
		err := usperr.Errorf(CodeRequestDenied, "%s is the running image", imagePath(bank))
		s.complete(ctx, t, err)
		return err
	}
	if err := s.claim(bank); err != nil {
		s.complete(ctx, t, err)
		return err
	}
	defer s.release(bank)
	return s.run(ctx, d)
}

// run carries a Download() out, from its start or from where a previous
// run of the Agent left it.
func (s *Service) run(ctx context.Context, d *pending) error {
	t := transfer{command: imagePath(d.Bank) + "Download()", key: d.Key, requestor: d.Requestor, url: d.URL, bank: d.Bank, start: d.Start}
	s.setPending(d, true)
	err := s.fetchInto(ctx, d)
	if err != nil && ctx.Err() != nil && s.closing() {
		// The Agent is stopping: the next start continues the transfer.
		// TR-369 1.3 (Persistence of Asynchronous Operations): the Request
		// ends with this run and counts as failed; the transfer's outcome
		// is the TransferComplete! the next run sends.
		return usperr.Errorf(CodeCommandFailure, "the agent stopped; the transfer continues at its next start")
	}
	s.setPending(d, false)
	s.complete(ctx, t, err)
	if err != nil {
		return usperr.Errorf(faultCode(err), "%s", faultString(err))
	}
	if d.Auto {
		// Activation follows the command's completion.
		if err := s.activate(context.WithoutCancel(ctx), d.Bank, d.Key); err != nil {
			s.log.WarnContext(ctx, "automatic activation failed", "bank", d.Bank, "err", err)
		}
	}
	return nil
}

// setPending records (on) or forgets d in the state.
func (s *Service) setPending(d *pending, on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.st.Pending[:0]
	for _, p := range s.st.Pending {
		if p.Bank != d.Bank {
			out = append(out, p)
		}
	}
	if on {
		out = append(out, d)
	}
	s.st.Pending = out
	if err := s.save(); err != nil {
		s.log.Warn("saving firmware state", "err", err)
	}
}

// fetchInto downloads d's URL and writes and validates it in its bank,
// keeping the bank's Status in step.
func (s *Service) fetchInto(ctx context.Context, d *pending) error {
	bank := d.Bank
	req := download.Request{URL: d.URL, Username: d.Username, Password: d.Password, FileSize: d.FileSize, CheckSumAlgorithm: d.Alg, CheckSum: d.Sum}
	if (req.CheckSum == "") != (req.CheckSumAlgorithm == "") {
		return usperr.Errorf(CodeInvalidArguments, "CheckSum and CheckSumAlgorithm go together")
	}
	s.setStatus(bank, StatusDownloading, "")
	dir := s.o.StateDir
	if dir == "" {
		dir = os.TempDir()
	}
	dst := filepath.Join(dir, "download-"+strconv.Itoa(bank))
	o := download.Options{}
	if s.o.Download != nil {
		o = *s.o.Download
	}
	o.Logger = s.log
	if _, err := download.Fetch(ctx, req, dst, &o); err != nil {
		// A file that does not match its checksum fails validation
		// (TP-469 9.6); any other failure is the download's.
		status := StatusDownloadFailed
		var e *download.Error
		if errors.As(err, &e) && e.Fault == download.FaultChecksum {
			status = StatusValidationFailed
		}
		s.setStatus(bank, status, "")
		return err
	}
	defer os.Remove(dst)
	f, err := os.Open(dst)
	if err != nil {
		s.setStatus(bank, StatusInstallationFailed, "")
		return usperr.Errorf(CodeResourcesExceeded, "reading the image: %v", err)
	}
	defer f.Close()
	s.setStatus(bank, StatusValidating, "")
	if err := s.o.Flash.Write(ctx, bank, f); err != nil {
		s.setStatus(bank, StatusInstallationFailed, "")
		return usperr.Errorf(CodeResourcesExceeded, "writing the image: %v", err)
	}
	if _, err := s.o.Flash.Validate(ctx, bank); err != nil {
		s.setStatus(bank, StatusValidationFailed, "")
		return usperr.Errorf(CodeCommandFailure, "the image is not valid: %v", err)
	}
	s.mu.Lock()
	s.st.Banks[bank-1].Available = true
	s.mu.Unlock()
	s.setStatus(bank, "", "")
	return nil
}
