package sim

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/uspkit/uspkit/record"
	"github.com/uspkit/uspkit/wire"
)

// Firmware makes the simulated Agents answer firmware upgrades and
// software installs the way a TR-181 Agent does: two
// Device.DeviceInfo.FirmwareImage banks, an asynchronous Download() and
// Activate() that end with OperationComplete and
// Device.LocalAgent.TransferComplete!, then a simulated reboot (over the
// same connection) announced by Boot! with FirmwareUpdated true and the
// new SoftwareVersion; and
// Device.SoftwareModules.InstallDU(). Notifications go only where the
// Controller subscribed (Device.LocalAgent.Subscription rows it added).
type Firmware struct {
	// Version is the SoftwareVersion the Agents start with; "" means
	// "1.0.0".
	Version string
	// NewVersion is the SoftwareVersion after an activation; "" means
	// Version with "-new" appended.
	NewVersion string
	// FailFraction is the share of the Agents whose downloads and
	// installs fail, spread evenly over the indexes: with 0.05, exactly
	// one Agent in 20 (indexes 19, 39, …) fails.
	FailFraction float64
	// Delay is how long a download or install takes; 0 means 20 ms.
	Delay time.Duration
	// RebootDelay is how long an activation's reboot takes; 0 means 20 ms.
	RebootDelay time.Duration
	// Fetch makes a Download() really fetch its URL (with the Username
	// and Password as HTTP Basic credentials) and check its FileSize and
	// SHA-256 CheckSum; a failure ends the Download() with a fault.
	Fetch bool
	// Client fetches; nil means http.DefaultClient.
	Client *http.Client
}

// Fails reports whether Agent i fails under FailFraction.
func (fw *Firmware) Fails(i int) bool {
	if fw == nil || fw.FailFraction <= 0 {
		return false
	}
	p := int64(math.Round(fw.FailFraction * 1e6))
	return (int64(i+1)*p)/1e6 > (int64(i)*p)/1e6
}

// device is a simulated Agent's firmware and subscriptions.
type device struct {
	mu       sync.Mutex
	version  string
	active   int       // 1 or 2
	images   [2]string // version held by each bank, "" for none
	status   [2]string
	subs     []subscription
	requests int
}

type subscription struct {
	id, notifType string
	refs          []string
}

func (fw *Firmware) newDevice() *device {
	v := fw.Version
	if v == "" {
		v = "1.0.0"
	}
	return &device{version: v, active: 1, images: [2]string{v, ""}, status: [2]string{"Active", "NoImage"}}
}

func (fw *Firmware) delay() time.Duration {
	if fw.Delay > 0 {
		return fw.Delay
	}
	return 20 * time.Millisecond
}

func (fw *Firmware) rebootDelay() time.Duration {
	if fw.RebootDelay > 0 {
		return fw.RebootDelay
	}
	return 20 * time.Millisecond
}

func (fw *Firmware) newVersion() string {
	if fw.NewVersion != "" {
		return fw.NewVersion
	}
	v := fw.Version
	if v == "" {
		v = "1.0.0"
	}
	return v + "-new"
}

// device answers the requests a firmware-capable Agent handles beyond the
// basic ones; nil leaves the request to the basic answers.
func (f *Fleet) device(ctx context.Context, l *light, id string, req *wire.Request) *wire.Msg {
	d := l.dev
	switch r := req.GetReqType().(type) {
	case *wire.Request_Get:
		return f.deviceGet(d, id, r.Get)
	case *wire.Request_Add:
		return deviceAdd(d, id, r.Add)
	case *wire.Request_Operate:
		return f.deviceOperate(ctx, l, id, r.Operate)
	}
	return nil
}

func (f *Fleet) deviceGet(d *device, id string, g *wire.Get) *wire.Msg {
	d.mu.Lock()
	defer d.mu.Unlock()
	resp := &wire.GetResp{}
	for _, p := range g.GetParamPaths() {
		rp := &wire.GetResp_RequestedPathResult{RequestedPath: p}
		add := func(obj string, params map[string]string) {
			rp.ResolvedPathResults = append(rp.ResolvedPathResults, &wire.GetResp_ResolvedPathResult{ResolvedPath: obj, ResultParams: params})
		}
		switch {
		case p == "Device.DeviceInfo." || p == "Device.DeviceInfo.SoftwareVersion":
			add("Device.DeviceInfo.", map[string]string{"SoftwareVersion": d.version, "ActiveFirmwareImage": fmt.Sprintf("Device.DeviceInfo.FirmwareImage.%d", d.active),
				"ProductClass": "Simulated", "ManufacturerOUI": "012345"})
		case p == "Device.DeviceInfo.ActiveFirmwareImage":
			add("Device.DeviceInfo.", map[string]string{"ActiveFirmwareImage": fmt.Sprintf("Device.DeviceInfo.FirmwareImage.%d", d.active)})
		case strings.HasPrefix(p, "Device.DeviceInfo.FirmwareImage."):
			for i := range 2 {
				add(fmt.Sprintf("Device.DeviceInfo.FirmwareImage.%d.", i+1), map[string]string{"Status": d.status[i], "Version": d.images[i],
					"Name": "bank" + strconv.Itoa(i+1), "Available": "true"})
			}
		case strings.HasPrefix(p, "Device.LocalAgent.Subscription."):
			for i, s := range d.subs {
				add(fmt.Sprintf("Device.LocalAgent.Subscription.%d.", i+1), map[string]string{"ID": s.id, "NotifType": s.notifType,
					"ReferenceList": strings.Join(s.refs, ",")})
			}
		default:
			return nil
		}
		resp.ReqPathResults = append(resp.ReqPathResults, rp)
	}
	return &wire.Msg{Header: &wire.Header{MsgId: id, MsgType: wire.Header_GET_RESP}, Body: &wire.Body{MsgBody: &wire.Body_Response{Response: &wire.Response{RespType: &wire.Response_GetResp{GetResp: resp}}}}}
}

// deviceAdd creates Device.LocalAgent.Subscription rows.
func deviceAdd(d *device, id string, a *wire.Add) *wire.Msg {
	resp := &wire.AddResp{}
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, o := range a.GetCreateObjs() {
		if o.GetObjPath() != "Device.LocalAgent.Subscription." {
			return errMsg(id, 7026, "a simulated agent adds only Device.LocalAgent.Subscription.")
		}
		s := subscription{}
		for _, p := range o.GetParamSettings() {
			switch p.GetParam() {
			case "ID":
				s.id = p.GetValue()
			case "NotifType":
				s.notifType = p.GetValue()
			case "ReferenceList":
				for r := range strings.SplitSeq(p.GetValue(), ",") {
					if r = strings.TrimSpace(r); r != "" {
						s.refs = append(s.refs, r)
					}
				}
			}
		}
		d.subs = append(d.subs, s)
		n := len(d.subs)
		resp.CreatedObjResults = append(resp.CreatedObjResults, &wire.AddResp_CreatedObjectResult{RequestedPath: o.GetObjPath(),
			OperStatus: &wire.AddResp_CreatedObjectResult_OperationStatus{OperStatus: &wire.AddResp_CreatedObjectResult_OperationStatus_OperSuccess{
				OperSuccess: &wire.AddResp_CreatedObjectResult_OperationStatus_OperationSuccess{InstantiatedPath: fmt.Sprintf("Device.LocalAgent.Subscription.%d.", n),
					UniqueKeys: map[string]string{"ID": s.id}}}}})
	}
	return &wire.Msg{Header: &wire.Header{MsgId: id, MsgType: wire.Header_ADD_RESP}, Body: &wire.Body{MsgBody: &wire.Body_Response{Response: &wire.Response{RespType: &wire.Response_AddResp{AddResp: resp}}}}}
}

func errMsg(id string, code uint32, msg string) *wire.Msg {
	return &wire.Msg{Header: &wire.Header{MsgId: id, MsgType: wire.Header_ERROR}, Body: &wire.Body{MsgBody: &wire.Body_Error{Error: &wire.Error{ErrCode: code, ErrMsg: msg}}}}
}

// deviceOperate starts Download(), Activate() or InstallDU() as an
// asynchronous command: the OperateResp names a Request object and an
// OperationComplete follows [R-OPR.0].
func (f *Fleet) deviceOperate(ctx context.Context, l *light, id string, op *wire.Operate) *wire.Msg {
	cmd := op.GetCommand()
	bank := 0
	var name string
	switch {
	case cmd == "Device.SoftwareModules.InstallDU()":
		name = "InstallDU()"
	case strings.HasPrefix(cmd, "Device.DeviceInfo.FirmwareImage."):
		rest := strings.TrimPrefix(cmd, "Device.DeviceInfo.FirmwareImage.")
		n, c, ok := strings.Cut(rest, ".")
		i, err := strconv.Atoi(n)
		if !ok || err != nil || i < 1 || i > 2 || (c != "Download()" && c != "Activate()") {
			return errMsg(id, 7026, "no such command")
		}
		bank, name = i, c
	default:
		return errMsg(id, 7026, "a simulated agent runs only firmware and InstallDU() commands")
	}
	if name == "Download()" && op.GetInputArgs()["URL"] == "" {
		return errMsg(id, 7027, "URL is required")
	}
	d := l.dev
	d.mu.Lock()
	d.requests++
	req := fmt.Sprintf("Device.LocalAgent.Request.%d.", d.requests)
	if name == "Download()" {
		d.status[bank-1] = "Downloading"
	}
	d.mu.Unlock()
	objPath := strings.TrimSuffix(cmd, name)
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
		f.runCommand(ctx, l, objPath, name, bank, op)
	}()
	return &wire.Msg{Header: &wire.Header{MsgId: id, MsgType: wire.Header_OPERATE_RESP}, Body: &wire.Body{MsgBody: &wire.Body_Response{Response: &wire.Response{
		RespType: &wire.Response_OperateResp{OperateResp: &wire.OperateResp{OperationResults: []*wire.OperateResp_OperationResult{{ExecutedCommand: cmd,
			OperationResp: &wire.OperateResp_OperationResult_ReqObjPath{ReqObjPath: req}}}}}}}}}
}

// runCommand plays an asynchronous command out: its OperationComplete,
// TransferComplete! for a Download(), and the reboot an activation makes.
func (f *Fleet) runCommand(ctx context.Context, l *light, objPath, name string, bank int, op *wire.Operate) {
	fw, d := f.o.Firmware, l.dev
	if !sleep(ctx, fw.delay()) {
		return
	}
	key := op.GetCommandKey()
	fails := fw.Fails(l.index)
	failMsg := "simulated download failure"
	if name == "Download()" && fw.Fetch && !fails {
		if err := fw.fetch(ctx, op.GetInputArgs()); err != nil {
			fails, failMsg = true, err.Error()
		}
	}
	start := time.Now().Add(-fw.delay()).UTC().Format(time.RFC3339)
	oc := &wire.Notify_OperationComplete{ObjPath: objPath, CommandName: name, CommandKey: key}
	if fails && name != "Activate()" {
		oc.OperationResp = &wire.Notify_OperationComplete_CmdFailure{CmdFailure: &wire.Notify_OperationComplete_CommandFailure{ErrCode: 7022, ErrMsg: failMsg}}
	} else {
		oc.OperationResp = &wire.Notify_OperationComplete_ReqOutputArgs{ReqOutputArgs: &wire.Notify_OperationComplete_OutputArgs{OutputArgs: map[string]string{}}}
	}
	activate := false
	if name == "Download()" {
		d.mu.Lock()
		if fails {
			d.status[bank-1] = "DownloadFailed"
		} else {
			d.images[bank-1], d.status[bank-1] = fw.newVersion(), "Available"
		}
		d.mu.Unlock()
		fault, msg := "0", ""
		if fails {
			fault, msg = "7022", failMsg
		}
		f.notify(ctx, l, "Event", &wire.Notify{Notification: &wire.Notify_Event_{Event: &wire.Notify_Event{ObjPath: "Device.LocalAgent.", EventName: "TransferComplete!",
			Params: map[string]string{"Command": objPath + name, "CommandKey": key, "TransferType": "Download", "Affected": objPath,
				"TransferURL": op.GetInputArgs()["URL"], "StartTime": start, "CompleteTime": time.Now().UTC().Format(time.RFC3339), "FaultCode": fault, "FaultString": msg}}}})
		activate = !fails && op.GetInputArgs()["AutoActivate"] == "true"
	}
	if name == "Activate()" {
		activate = true
	}
	if name == "InstallDU()" {
		fault, msg := "0", ""
		if fails {
			fault, msg = "7022", "simulated install failure"
		}
		f.notify(ctx, l, "Event", &wire.Notify{Notification: &wire.Notify_Event_{Event: &wire.Notify_Event{ObjPath: "Device.SoftwareModules.", EventName: "DUStateChange!",
			Params: map[string]string{"CommandKey": key, "OperationPerformed": "Install", "CurrentState": map[bool]string{true: "Failed", false: "Installed"}[fails],
				"Fault.FaultCode": fault, "Fault.FaultString": msg}}}})
	}
	f.notify(ctx, l, "OperationComplete", &wire.Notify{Notification: &wire.Notify_OperComplete{OperComplete: oc}})
	if !activate {
		return
	}
	if !sleep(ctx, fw.rebootDelay()) {
		return
	}
	d.mu.Lock()
	if bank == 0 || d.images[bank-1] == "" {
		d.mu.Unlock()
		return
	}
	d.status[d.active-1] = "Available"
	d.active, d.version, d.status[bank-1] = bank, d.images[bank-1], "Active"
	d.mu.Unlock()
	f.notify(ctx, l, "Event", &wire.Notify{Notification: &wire.Notify_Event_{Event: &wire.Notify_Event{ObjPath: "Device.", EventName: "Boot!",
		Params: map[string]string{"CommandKey": key, "Cause": "RemoteReboot", "FirmwareUpdated": "true", "ParameterMap": "{}"}}}})
}

// notify sends n if the Controller subscribed to it, with the
// subscription's ID [R-NOT.7].
func (f *Fleet) notify(ctx context.Context, l *light, notifType string, n *wire.Notify) {
	path := ""
	if e := n.GetEvent(); e != nil {
		path = e.GetObjPath() + e.GetEventName()
	} else if oc := n.GetOperComplete(); oc != nil {
		path = oc.GetObjPath() + oc.GetCommandName()
	}
	d := l.dev
	d.mu.Lock()
	sub := ""
	for _, s := range d.subs {
		if s.notifType != notifType {
			continue
		}
		for _, r := range s.refs {
			if r == path || (strings.HasSuffix(r, ".") && strings.HasPrefix(path, r)) {
				sub = s.id
			}
		}
	}
	d.requests++
	msgID := fmt.Sprintf("%s-notify-%d", l.id, d.requests)
	d.mu.Unlock()
	if sub == "" {
		return
	}
	n.SubscriptionId, n.SendResp = sub, true
	m := &wire.Msg{Header: &wire.Header{MsgId: msgID, MsgType: wire.Header_NOTIFY}, Body: &wire.Body{MsgBody: &wire.Body_Request{Request: &wire.Request{ReqType: &wire.Request_Notify{Notify: n}}}}}
	payload, err := proto.Marshal(m)
	if err != nil {
		return
	}
	b, err := record.NewNoSession(f.o.Controller, l.id, payload).MarshalBinary()
	if err != nil {
		return
	}
	l.t.Send(ctx, f.o.ControllerAddr, b)
}

// Version returns the SoftwareVersion of Agent i (firmware simulation
// only).
func (f *Fleet) Version(i int) string {
	d := f.agents[i].dev
	if d == nil {
		return ""
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.version
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// fetch downloads a Download()'s URL and checks its size and SHA-256.
func (fw *Firmware) fetch(ctx context.Context, args map[string]string) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, args["URL"], nil)
	if err != nil {
		return fmt.Errorf("download: %w", err)
	}
	if u := args["Username"]; u != "" {
		req.SetBasicAuth(u, args["Password"])
	}
	hc := fw.Client
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("download: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("download: HTTP %d", resp.StatusCode)
	}
	h := sha256.New()
	n, err := io.Copy(h, resp.Body)
	if err != nil {
		return fmt.Errorf("download: %w", err)
	}
	if want := args["FileSize"]; want != "" && want != strconv.FormatInt(n, 10) {
		return fmt.Errorf("download: %d bytes, FileSize %s", n, want)
	}
	if args["CheckSumAlgorithm"] == "SHA-256" && !strings.EqualFold(hex.EncodeToString(h.Sum(nil)), args["CheckSum"]) {
		return errors.New("download: checksum mismatch")
	}
	return nil
}
