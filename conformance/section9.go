package conformance

import (
	"crypto/sha1"
	"encoding/hex"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/uspkit/uspkit/wire"
)

// FirmwareSetup gives the firmware cases of TP-469 section 9 (9.3 to 9.8)
// an image to offer the Agent: the runner serves it over HTTP.
type FirmwareSetup struct {
	// Image is the file served: an image the Agent accepts (for `usp
	// agent`, a usp binary). "" skips the cases.
	Image string
	// Version is the SoftwareVersion the Agent reports once it runs Image;
	// "" takes the Version the Agent gives the downloaded FirmwareImage.
	Version string
	// Host is an address of the runner's host that the Agent reaches; ""
	// means 127.0.0.1.
	Host string
}

// Timing of section 9.
const (
	fwTransferWait = 60 * time.Second  // a Download() to its TransferComplete!
	fwBootWait     = 120 * time.Second // an activation to Boot!
	fwCancelWait   = 130 * time.Second // 9.8 with long waits: past TimeWindow.1.Start
)

const (
	fwTable   = "Device.DeviceInfo.FirmwareImage."
	fwDownEvt = "Device.LocalAgent.TransferComplete!"
)

// section9 implements the firmware cases.
func section9() map[string]caseFunc {
	return map[string]caseFunc{
		"9.3": {boot: true, wait: fwTransferWait + fwBootWait, run: fwAutoActivate},
		"9.4": {boot: true, wait: 2*fwTransferWait + fwBootWait, run: func(t *T) { fwActivate(t, "1", "100", "Immediately", 5*time.Second) }},
		"9.5": {boot: true, wait: 2*fwTransferWait + fwBootWait, run: func(t *T) { fwActivate(t, "0", "120", "AnyTime", 2*time.Minute) }},
		"9.6": {wait: fwTransferWait, run: fwBadChecksum},
		"9.7": {wait: fwTransferWait + fwBootWait, run: fwActiveBank},
		"9.8": {wait: fwTransferWait + fwCancelWait, run: fwCancel},
		"9.2": section9Cert()["9.2"], // section9cert.go
	}
}

// fwServer serves the setup's image and returns its URL and size.
func (t *T) fwServer() (url string, size int64) {
	t.need(fwTable+"{i}.Download()", fwDownEvt)
	s := t.r.o.Firmware
	if s == nil || s.Image == "" {
		t.Skipf("needs a firmware image to serve (usp conformance --firmware-image)")
	}
	fi, err := os.Stat(s.Image)
	if err != nil {
		t.Fatalf("firmware image: %v", err)
	}
	host := s.Host
	if host == "" {
		host = "127.0.0.1"
	}
	l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		t.Fatalf("image server: %v", err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/image" {
			http.NotFound(w, r)
			return
		}
		http.ServeFile(w, r, s.Image)
	}), ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return "http://" + l.Addr().String() + "/image", fi.Size()
}

// fwBanks returns the active FirmwareImage instance and an inactive one
// ("" when the Agent has a single bank).
func (t *T) fwBanks() (active, inactive string) {
	active = t.value("Device.DeviceInfo.ActiveFirmwareImage")
	for _, in := range t.instances(fwTable) {
		if in != active && inactive == "" {
			inactive = in
		}
	}
	return active, inactive
}

// fwSubscribe subscribes (persistently, so that they survive the reboot)
// to Boot!, TransferComplete! and the OperationComplete of cmds.
func (t *T) fwSubscribe(cmds ...string) {
	objs := []createObj{obj(subTable, p("Enable", "true"), p("ID", "tp469-"+t.id+"-ev"), p("NotifType", "Event"),
		p("ReferenceList", "Device.Boot!,"+fwDownEvt), p("Persistent", "true"))}
	for i, c := range cmds {
		objs = append(objs, obj(subTable, p("Enable", "true"), p("ID", "tp469-"+t.id+"-oc"+strconv.Itoa(i)), p("NotifType", "OperationComplete"),
			p("ReferenceList", c), p("Persistent", "true")))
	}
	t.addSubs(objs...)
}

func isEvent(name, key string) func(*wire.Notify) bool {
	return func(n *wire.Notify) bool {
		ev := n.GetEvent()
		return ev != nil && ev.GetObjPath()+ev.GetEventName() == name && (key == "" || ev.GetParams()["CommandKey"] == key)
	}
}

func eventArgs(m *wire.Msg) map[string]string {
	return m.GetBody().GetRequest().GetNotify().GetEvent().GetParams()
}

// fwDownload has the Agent download the image into bank and waits for
// its TransferComplete!, returning its arguments.
func (t *T) fwDownload(bank, url string, size int64, key string, auto bool, extra map[string]string) map[string]string {
	args := map[string]string{"URL": url, "AutoActivate": strconv.FormatBool(auto), "FileSize": strconv.FormatInt(size, 10)}
	for k, v := range extra {
		args[k] = v
	}
	r := t.operateResp(t.Do(operateReq(bank+"Download()", key, true, args)))
	res := r.GetOperationResults()
	t.Check(len(res) == 1 && res[0].GetExecutedCommand() == bank+"Download()", "OperateResp %v", r)
	if f := res[0].GetCmdFailure(); f != nil {
		t.Fatalf("Download() refused: %d %s", f.GetErrCode(), f.GetErrMsg())
	}
	m := t.Notify(fwTransferWait, isEvent(fwDownEvt, key))
	t.Check(m != nil, "no TransferComplete! for %sDownload()", bank)
	return eventArgs(m)
}

// fwReady makes sure bank holds a valid image other than the running one
// (the setup of 9.4, 9.5 and 9.8), downloading it when it does not.
func (t *T) fwReady(bank, url string, size int64) {
	if t.value(bank+"Status") == "Available" {
		return
	}
	tc := t.fwDownload(bank, url, size, "tp469-"+t.id+"-setup", false, nil)
	t.Check(tc["FaultCode"] == "0", "setup download failed: %v", tc)
}

// fwBooted waits for the Agent to come back and for Boot! with
// FirmwareUpdated true, then checks the active image and version.
func (t *T) fwBooted(bank, version string) {
	t.rebooted()
	m := t.Notify(fwBootWait, isEvent("Device.Boot!", ""))
	t.Check(m != nil, "no Boot! after the activation")
	t.Check(eventArgs(m)["FirmwareUpdated"] == "true", "Boot! FirmwareUpdated is not true: %v", eventArgs(m))
	v := flat(t.getResp(t.Do(getReq("Device.DeviceInfo."))))
	t.Check(v["Device.DeviceInfo.ActiveFirmwareImage"] == bank, "ActiveFirmwareImage %q, want %q", v["Device.DeviceInfo.ActiveFirmwareImage"], bank)
	if version != "" {
		t.Check(v["Device.DeviceInfo.SoftwareVersion"] == version, "SoftwareVersion %q, want %q", v["Device.DeviceInfo.SoftwareVersion"], version)
	}
}

// fwAutoActivate is 9.3: Download() with AutoActivate into the inactive
// bank: OperationComplete, TransferComplete!, Boot! with FirmwareUpdated,
// and the bank active with the expected version.
func fwAutoActivate(t *T) {
	url, size := t.fwServer()
	_, bank := t.fwBanks()
	if bank == "" {
		t.Skipf("the agent has a single firmware bank (see 9.7)")
	}
	t.fwSubscribe(fwTable + "*.Download()")
	key := "tp469-9.3"
	r := t.operateResp(t.Do(operateReq(bank+"Download()", key, true, map[string]string{"URL": url, "AutoActivate": "true", "FileSize": strconv.FormatInt(size, 10)})))
	t.Check(len(r.GetOperationResults()) == 1 && r.GetOperationResults()[0].GetCmdFailure() == nil, "OperateResp %v", r)
	oc := t.Notify(fwTransferWait, isComplete(bank+"Download()", key))
	t.Check(oc != nil, "no OperationComplete for Download()")
	t.Check(oc.GetBody().GetRequest().GetNotify().GetOperComplete().GetCmdFailure() == nil, "Download() failed: %v", oc)
	tc := t.Notify(fwTransferWait, isEvent(fwDownEvt, key))
	t.Check(tc != nil, "no TransferComplete!")
	t.Check(eventArgs(tc)["FaultCode"] == "0", "TransferComplete! with a fault: %v", eventArgs(tc))
	t.fwBooted(bank, t.r.o.Firmware.Version)
}

// fwActivate is 9.4 and 9.5: Activate() of the inactive bank with one
// TimeWindow: OperationComplete within within, Boot! with FirmwareUpdated
// and the bank's version running.
func fwActivate(t *T, start, end, mode string, within time.Duration) {
	url, size := t.fwServer()
	_, bank := t.fwBanks()
	if bank == "" {
		t.Skipf("the agent has a single firmware bank")
	}
	t.need(fwTable + "{i}.Activate()")
	t.fwSubscribe(fwTable + "*.Activate()")
	t.fwReady(bank, url, size)
	version := t.value(bank + "Version")
	key := "tp469-" + t.id
	r := t.operateResp(t.Do(operateReq(bank+"Activate()", key, true, map[string]string{
		"TimeWindow.1.Start": start, "TimeWindow.1.End": end, "TimeWindow.1.Mode": mode})))
	t.Check(len(r.GetOperationResults()) == 1 && r.GetOperationResults()[0].GetCmdFailure() == nil, "OperateResp %v", r)
	oc := t.Notify(within, isComplete(bank+"Activate()", key))
	t.Check(oc != nil, "no OperationComplete for Activate() within %s", within)
	t.Check(oc.GetBody().GetRequest().GetNotify().GetOperComplete().GetCmdFailure() == nil, "Activate() failed: %v", oc)
	t.fwBooted(bank, version)
}

// fwBadChecksum is 9.6: a Download() whose SHA-1 checksum does not match
// ends in TransferComplete! and the image's Status ValidationFailed.
func fwBadChecksum(t *T) {
	url, size := t.fwServer()
	_, bank := t.fwBanks()
	if bank == "" {
		t.Skipf("the agent has a single firmware bank")
	}
	t.fwSubscribe()
	wrong := sha1.Sum([]byte("not the image"))
	tc := t.fwDownload(bank, url, size, "tp469-9.6", false, map[string]string{"CheckSumAlgorithm": "SHA-1", "CheckSum": hex.EncodeToString(wrong[:])})
	t.Check(tc["FaultCode"] != "0", "TransferComplete! without a fault: %v", tc)
	st := t.value(bank + "Status")
	t.Check(st == "ValidationFailed", "Status %q, want ValidationFailed", st)
}

// fwActiveBank is 9.7: Download() into the active bank. An Agent with
// several banks may refuse it; otherwise TransferComplete! and Boot! with
// FirmwareUpdated follow.
func fwActiveBank(t *T) {
	url, size := t.fwServer()
	active, inactive := t.fwBanks()
	t.fwSubscribe(fwTable + "*.Download()")
	key := "tp469-9.7"
	r := t.operateResp(t.Do(operateReq(active+"Download()", key, true, map[string]string{"URL": url, "AutoActivate": "true", "FileSize": strconv.FormatInt(size, 10)})))
	res := r.GetOperationResults()
	t.Check(len(res) == 1, "OperateResp %v", r)
	if inactive != "" && res[0].GetCmdFailure() != nil {
		return // refused at once
	}
	oc := t.Notify(fwTransferWait, isComplete(active+"Download()", key))
	t.Check(oc != nil, "no OperationComplete for Download()")
	if inactive != "" && oc.GetBody().GetRequest().GetNotify().GetOperComplete().GetCmdFailure() != nil {
		return // refused: downloading to the active bank is not allowed
	}
	if !t.r.o.Reboot {
		t.Skipf("the agent took a download into its active bank and reboots (run with reboots enabled)")
	}
	tc := t.Notify(fwTransferWait, isEvent(fwDownEvt, key))
	t.Check(tc != nil && eventArgs(tc)["FaultCode"] == "0", "TransferComplete!: %v", tc)
	t.fwBooted(active, t.r.o.Firmware.Version)
}

// fwCancel is 9.8: an Activate() whose window starts in 120 s is
// cancelled with its Request's Cancel(): the Request ends and no Boot!
// follows. Without long waits the runner watches for Boot! for 10 s
// only; with them, past the window's start.
func fwCancel(t *T) {
	url, size := t.fwServer()
	_, bank := t.fwBanks()
	if bank == "" {
		t.Skipf("the agent has a single firmware bank")
	}
	t.need(fwTable+"{i}.Activate()", "Device.LocalAgent.Request.{i}.Cancel()")
	t.fwSubscribe()
	t.fwReady(bank, url, size)
	r := t.operateResp(t.Do(operateReq(bank+"Activate()", "tp469-9.8", true, map[string]string{
		"TimeWindow.1.Start": "120", "TimeWindow.1.End": "500", "TimeWindow.1.Mode": "AnyTime"})))
	res := r.GetOperationResults()
	t.Check(len(res) == 1 && strings.HasSuffix(res[0].GetExecutedCommand(), "Activate()") && instanceOf("Device.LocalAgent.Request.")(res[0].GetReqObjPath()),
		"OperateResp %v", r)
	req := res[0].GetReqObjPath()
	t.operateResp(t.Do(operateReq(req+"Cancel()", "", true, nil)))
	wait := 10 * time.Second
	if t.r.o.Long {
		wait = fwCancelWait
	}
	t.Check(t.Notify(wait, isEvent("Device.Boot!", "")) == nil, "Boot! after the cancelled Activate()")
	for _, in := range t.instances("Device.LocalAgent.Request.") {
		if in == req {
			st := t.value(req + "Status")
			t.Check(st == "Canceled" || st == "Canceling" || st == "Cancelled" || st == "Cancelling", "%s Status %q", req, st)
		}
	}
}
