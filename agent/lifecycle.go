package agent

import (
	"context"
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/uspkit/uspkit/datamodel"
	"github.com/uspkit/uspkit/store"
	"github.com/uspkit/uspkit/usperr"
	"github.com/uspkit/uspkit/wire"
)

// onChange follows committed changes: configuration changes refresh the
// Agent's view, and every change is matched against subscriptions.
func (a *Agent) onChange(ctx context.Context, changes []datamodel.Change) {
	cfg := false
	var subs []string
	for _, c := range changes {
		if configuresLinks(c) {
			a.kickLinks()
		}
		if strings.HasPrefix(c.Path, pathControllers) || strings.HasPrefix(c.Path, pathTrust) {
			cfg = true
		}
		if rest, ok := strings.CutPrefix(c.Path, pathSubs); ok && strings.Count(rest, ".") == 1 && !slices.Contains(subs, c.Path) {
			subs = append(subs, c.Path)
		}
	}
	if cfg {
		if err := a.reload(ctx); err != nil {
			a.log.ErrorContext(ctx, "reloading configuration", "err", err)
		}
		a.syncInherited(ctx) // credential.go
		a.dropOrphans(ctx, changes)
		a.initE2EStatus(ctx)
		a.periodic.kick()
	}
	if len(subs) > 0 {
		a.subs.reload(ctx, subs...)
		a.brk.kick() // subscriptions on USP Services follow (broker_notify.go)
	}
	a.subs.onChange(ctx, changes)
}

// configuresLinks reports whether a change may open, close or change a
// transport: a change to the MTP, MQTT client, STOMP connection or
// Controller tables other than the status the Agent reports.
func configuresLinks(c datamodel.Change) bool {
	if !strings.HasPrefix(c.Path, pathLocalAgentMT) && !strings.HasPrefix(c.Path, pathMQTTClients) &&
		!strings.HasPrefix(c.Path, pathSTOMPConns) && !strings.HasPrefix(c.Path, pathControllers) {
		return false
	}
	if c.Op != datamodel.OpSet {
		return true
	}
	for n := range c.Params {
		switch n {
		case "Status", "IsEncrypted", "CurrentRetryCount", "ResponseTopicDiscovered", "DestinationFromServer", "LastChangeDate", "ResponseInformation":
		default:
			return true
		}
	}
	return false
}

// dropOrphans deletes the subscriptions whose recipient Controller was
// deleted (TP-469 1.78).
func (a *Agent) dropOrphans(ctx context.Context, changes []datamodel.Change) {
	for _, c := range changes {
		rest, ok := strings.CutPrefix(c.Path, pathControllers)
		if c.Op != datamodel.OpDelete || !ok || strings.Count(rest, ".") != 1 {
			continue
		}
		ref := strings.TrimSuffix(c.Path, ".")
		var paths []string
		for path, p := range a.rows(ctx, pathSubs) {
			if strings.TrimSuffix(p["Recipient"], ".") == ref {
				paths = append(paths, path)
			}
		}
		if len(paths) > 0 {
			if _, err := a.eng.Delete(ctx, agentCaller, true, paths); err != nil {
				a.log.WarnContext(ctx, "deleting the subscriptions of a deleted controller", "err", err)
			}
		}
	}
}

// operate runs an Operate message.
func (a *Agent) operate(ctx context.Context, c datamodel.Caller, id string, m *wire.Operate) *wire.Msg {
	res, err := a.eng.Operate(ctx, c, m.GetCommand(), m.GetCommandKey(), m.GetInputArgs())
	if err == nil {
		err = missingArgument(ctx, res) // [R-OPR.5] of the Record's USP version
	}
	if err != nil {
		return errMsg(id, err)
	}
	out := &wire.OperateResp{}
	for _, r := range res {
		or := &wire.OperateResp_OperationResult{ExecutedCommand: r.Command}
		switch {
		case r.Async != nil:
			p := a.reqs.start(ctx, c.EndpointID, r.Command, m.GetCommandKey(), r.Async)
			or.OperationResp = &wire.OperateResp_OperationResult_ReqObjPath{ReqObjPath: p}
		case r.Err != nil:
			or.OperationResp = &wire.OperateResp_OperationResult_CmdFailure{CmdFailure: &wire.OperateResp_OperationResult_CommandFailure{
				ErrCode: usperr.Code(r.Err), ErrMsg: usperr.Message(r.Err)}}
		default:
			or.OperationResp = &wire.OperateResp_OperationResult_ReqOutputArgs{ReqOutputArgs: &wire.OperateResp_OperationResult_OutputArgs{OutputArgs: r.Output}}
		}
		out.OperationResults = append(out.OperationResults, or)
	}
	if !m.GetSendResp() {
		return nil
	}
	return respMsg(id, wire.Header_OPERATE_RESP, &wire.Response{RespType: &wire.Response_OperateResp{OperateResp: out}})
}

// bootMarker is stored before a restart the Agent causes, so that the
// next start reports why in Boot!.
type bootMarker struct {
	Cause      string `json:"cause"`
	CommandKey string `json:"command_key"`
}

// boot sends Boot! to each subscribed Controller with its
// BootParameters, with the cause recorded before the restart.
func (a *Agent) boot(ctx context.Context) {
	cause, key := a.opt.BootCause, a.opt.BootCommandKey
	if snap, err := a.opt.Store.Load(ctx); err == nil {
		for _, it := range snap.Items {
			if it.Kind == "agent" && it.ID == "boot" {
				var m bootMarker
				if json.Unmarshal(it.Data, &m) == nil {
					cause, key = m.Cause, m.CommandKey
				}
				a.opt.Store.Apply(ctx, &store.Batch{DeleteItems: []store.Item{it}})
			}
		}
	}
	if cause == "" {
		cause = "LocalReboot"
	}
	a.emitBoot(ctx, cause, key)
}

func (a *Agent) emitBoot(ctx context.Context, cause, key string) {
	a.Emit(ctx, "Device.Boot!", func(recipient string) map[string]string {
		params := map[string]string{}
		if c := a.controllerByEndpoint(recipient); c != nil && len(c.bootParams) > 0 {
			for _, r := range a.eng.Get(ctx, agentCaller, c.bootParams, 0) {
				for _, o := range r.Objects {
					for n, v := range o.Params {
						params[o.Path+n] = v
					}
				}
			}
		}
		pm, _ := json.Marshal(params)
		return map[string]string{"CommandKey": key, "Cause": cause, "FirmwareUpdated": strconv.FormatBool(a.opt.BootFirmwareUpdated), "ParameterMap": string(pm)}
	})
}

// reboot is Device.Reboot(): it records the cause and asks the process to
// restart once the response is on its way.
func (a *Agent) reboot(ctx context.Context, w datamodel.ResponseWriter, r *datamodel.Request) error {
	return a.restart(ctx, "RemoteReboot", r.CommandKey)
}

// factoryReset is Device.FactoryReset(): configuration returns to the
// factory configuration, then the Agent restarts.
func (a *Agent) factoryReset(ctx context.Context, w datamodel.ResponseWriter, r *datamodel.Request) error {
	var paths []string
	for _, p := range []string{pathControllers, pathSubs, pathRoles, pathLocalAgentMT} {
		for _, res := range a.eng.Instances(ctx, agentCaller, []string{p}, true) {
			for _, in := range res.Instances {
				paths = append(paths, in.Path)
			}
		}
	}
	if len(paths) > 0 {
		if _, err := a.eng.Delete(ctx, agentCaller, false, paths); err != nil {
			return err
		}
	}
	if err := a.seed(ctx); err != nil {
		return usperr.Errorf(usperr.CodeCommandFailure, "restoring the factory configuration: %v", err)
	}
	return a.restart(ctx, "RemoteFactoryReset", r.CommandKey)
}

func (a *Agent) restart(ctx context.Context, cause, key string) error {
	data, _ := json.Marshal(bootMarker{Cause: cause, CommandKey: key})
	if err := a.opt.Store.Apply(ctx, &store.Batch{PutItems: []store.Item{{Kind: "agent", ID: "boot", Data: data}}}); err != nil {
		return usperr.Errorf(usperr.CodeCommandFailure, "recording the restart: %v", err)
	}
	a.log.InfoContext(ctx, "restart requested", "cause", cause)
	go func() {
		time.Sleep(200 * time.Millisecond) // let the response go out first
		if a.opt.OnReboot != nil {
			a.opt.OnReboot(cause)
			return
		}
		// Without a process to restart, act out the restart in place.
		bctx := context.WithoutCancel(ctx)
		a.subs.dropVolatile(bctx)
		a.boot(bctx)
	}()
	return nil
}

// scheduleTimer is Device.ScheduleTimer(): it completes after
// DelaySeconds, or fails when cancelled first.
func (a *Agent) scheduleTimer(ctx context.Context, w datamodel.ResponseWriter, r *datamodel.Request) error {
	d, _ := strconv.ParseUint(r.Values["DelaySeconds"], 10, 32)
	t := time.NewTimer(time.Duration(d) * time.Second)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return usperr.Errorf(usperr.CodeCommandCanceled, "timer cancelled")
	}
}

// selfTest is Device.SelfTestDiagnostics(): it checks that the store
// takes writes and the data model answers.
func (a *Agent) selfTest(ctx context.Context, w datamodel.ResponseWriter, r *datamodel.Request) error {
	var problems []string
	probe := store.Item{Kind: "agent", ID: "selftest", Data: []byte(a.now().UTC().Format(time.RFC3339Nano))}
	if err := a.opt.Store.Apply(ctx, &store.Batch{PutItems: []store.Item{probe}}); err != nil {
		problems = append(problems, "store: "+err.Error())
	} else {
		a.opt.Store.Apply(ctx, &store.Batch{DeleteItems: []store.Item{probe}})
	}
	if res := a.eng.Get(ctx, agentCaller, []string{"Device.LocalAgent.EndpointID"}, 0); res[0].Err != nil {
		problems = append(problems, "data model: "+res[0].Err.Error())
	}
	if len(problems) > 0 {
		w.SetValue("Status", "Error_Internal")
		w.SetValue("Results", strings.Join(problems, "; "))
		return nil
	}
	w.SetValue("Status", "Complete")
	w.SetValue("Results", "store ok; data model ok; "+strconv.Itoa(len(a.links()))+" MTPs")
	return nil
}

// sendOnBoardRequest is Controller.{i}.SendOnBoardRequest(): a Notify of
// type OnBoardRequest to that Controller, asking for a response.
func (a *Agent) sendOnBoardRequest(ctx context.Context, w datamodel.ResponseWriter, r *datamodel.Request) error {
	c := a.controllerByRef(r.Path)
	if c == nil || !c.enabled {
		return usperr.Errorf(usperr.CodeCommandFailure, "%s is not an enabled Controller", r.Path)
	}
	a.startOnBoarding(ctx, c.ref) // OnBoardingComplete false [R-NOT.5]
	a.onBoard(ctx, c)
	return nil
}

func (a *Agent) onBoard(ctx context.Context, c *controller) {
	id := a.identity(ctx) // identity.go
	n := &wire.Notify{SendResp: true, Notification: &wire.Notify_OnBoardReq{OnBoardReq: &wire.Notify_OnBoardRequest{
		Oui: id.oui, ProductClass: id.productClass, SerialNumber: id.serialNumber,
		AgentSupportedProtocolVersions: SupportedVersions}}}
	a.onb.track(a.subs.notify(ctx, c, "", n, time.Time{}), c.ref)
}
