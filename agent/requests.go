package agent

import (
	"context"
	"sort"
	"strconv"
	"sync"

	"github.com/uspkit/uspkit/datamodel"
	"github.com/uspkit/uspkit/usperr"
)

// requests provides Device.LocalAgent.Request.{i}.: one row per
// asynchronous command in progress, removed when it completes, with
// Cancel() to stop it.
type requests struct {
	a *Agent

	mu   sync.Mutex
	rows map[uint32]*request
	last uint32
	base context.Context
	stop context.CancelFunc
	wg   sync.WaitGroup
}

type request struct {
	originator, command, key, status string
	cancel                           context.CancelFunc
}

func newRequests(a *Agent) *requests {
	base, stop := context.WithCancel(context.Background())
	return &requests{a: a, rows: map[uint32]*request{}, base: base, stop: stop}
}

// start records an asynchronous command and runs it; the OperationComplete
// notification follows its end. It returns the Request object's path.
func (q *requests) start(ctx context.Context, originator, command, key string, run func(context.Context) (map[string]string, error)) string {
	rctx, cancel := context.WithCancel(q.base)
	q.mu.Lock()
	q.last++
	n := q.last
	q.rows[n] = &request{originator: originator, command: command, key: key, status: "Active", cancel: cancel}
	q.mu.Unlock()
	path := pathRequests + strconv.FormatUint(uint64(n), 10) + "."
	q.a.subs.onChange(ctx, []datamodel.Change{{Op: datamodel.OpAdd, Path: path, Object: q.a.eng.Model().Object("Device.LocalAgent.Request.{i}."),
		Params: map[string]string{"Alias": "cpe-" + strconv.FormatUint(uint64(n), 10), "Originator": originator, "Command": command, "CommandKey": key}}})
	q.wg.Add(1)
	go func() {
		defer q.wg.Done()
		defer cancel()
		out, err := run(rctx)
		if err == nil && rctx.Err() != nil {
			err = usperr.Errorf(usperr.CodeCommandCanceled, "cancelled")
		}
		q.mu.Lock()
		delete(q.rows, n)
		q.mu.Unlock()
		nctx := context.WithoutCancel(ctx)
		q.a.subs.operationComplete(nctx, command, key, out, err)
		q.a.subs.onChange(nctx, []datamodel.Change{{Op: datamodel.OpDelete, Path: path, Object: q.a.eng.Model().Object("Device.LocalAgent.Request.{i}.")}})
	}()
	return path
}

// cancelAll cancels every command in progress and waits for them.
func (q *requests) cancelAll() {
	q.stop()
	q.wg.Wait()
}

// ServeUSP provides the table.
func (q *requests) ServeUSP(ctx context.Context, w datamodel.ResponseWriter, r *datamodel.Request) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	switch r.Op {
	case datamodel.OpList:
		ns := make([]int, 0, len(q.rows))
		for n := range q.rows {
			ns = append(ns, int(n))
		}
		sort.Ints(ns)
		for _, n := range ns {
			w.AddInstance(uint32(n))
		}
		return nil
	case datamodel.OpGet, datamodel.OpOperate:
	default:
		return usperr.Errorf(usperr.CodeRequestDenied, "requests cannot be changed")
	}
	n := r.Instances[len(r.Instances)-1]
	row := q.rows[n]
	if row == nil {
		return usperr.Errorf(usperr.CodeObjectNotFound, "%s does not exist", r.Path)
	}
	if r.Op == datamodel.OpOperate { // Cancel()
		row.status = "Canceling"
		row.cancel()
		return nil
	}
	for _, name := range r.Names {
		switch name {
		case "Alias":
			w.SetValue(name, "cpe-"+strconv.FormatUint(uint64(n), 10))
		case "Originator":
			w.SetValue(name, row.originator)
		case "Command":
			w.SetValue(name, row.command)
		case "CommandKey":
			w.SetValue(name, row.key)
		case "Status":
			w.SetValue(name, row.status)
		}
	}
	return nil
}
