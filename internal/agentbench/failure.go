package agentbench

import (
	"fmt"

	"github.com/uspkit/uspkit/wire"
)

// failure finds a failure reported inside a response: a requested path
// of a Get with an error code, an Add, Set or Delete that failed, an
// Operate whose command failed.
func failure(m *wire.Msg) error {
	r := m.GetBody().GetResponse()
	for _, p := range r.GetGetResp().GetReqPathResults() {
		if p.GetErrCode() != 0 {
			return fmt.Errorf("agentbench: get %s: %d %s", p.GetRequestedPath(), p.GetErrCode(), p.GetErrMsg())
		}
	}
	for _, o := range r.GetAddResp().GetCreatedObjResults() {
		if f := o.GetOperStatus().GetOperFailure(); f != nil {
			return fmt.Errorf("agentbench: add: %d %s", f.GetErrCode(), f.GetErrMsg())
		}
	}
	for _, o := range r.GetSetResp().GetUpdatedObjResults() {
		if f := o.GetOperStatus().GetOperFailure(); f != nil {
			return fmt.Errorf("agentbench: set: %d %s", f.GetErrCode(), f.GetErrMsg())
		}
	}
	for _, o := range r.GetDeleteResp().GetDeletedObjResults() {
		if f := o.GetOperStatus().GetOperFailure(); f != nil {
			return fmt.Errorf("agentbench: delete: %d %s", f.GetErrCode(), f.GetErrMsg())
		}
	}
	for _, o := range r.GetOperateResp().GetOperationResults() {
		if f := o.GetCmdFailure(); f != nil {
			return fmt.Errorf("agentbench: operate: %d %s", f.GetErrCode(), f.GetErrMsg())
		}
	}
	return nil
}
