package datamodel

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/uspkit/uspkit/usperr"
)

// recorder is the ResponseWriter the engine hands to Handlers.
type recorder struct {
	values map[string]string
	insts  []uint32
}

func (r *recorder) SetValue(name, value string) {
	if r.values == nil {
		r.values = map[string]string{}
	}
	r.values[name] = value
}

func (r *recorder) AddInstance(n uint32) { r.insts = append(r.insts, n) }

// call runs a provided object's handler, turning a panic into an error so
// that a faulty handler fails one request and not the Agent.
func (t *txn) call(ctx context.Context, h Handler, r *Request) (rec *recorder, err error) {
	rec = &recorder{}
	r.Caller = t.caller
	defer func() {
		if v := recover(); v != nil {
			t.e.log.ErrorContext(ctx, "datamodel handler panicked", "op", r.Op.String(), "path", r.Path, "panic", fmt.Sprint(v))
			err = usperr.Errorf(usperr.CodeInternal, "handler for %s failed", r.Path)
		}
	}()
	err = h.ServeUSP(ctx, rec, r)
	return rec, err
}

// instances returns the sorted instance numbers of the table at path.
func (t *txn) instances(ctx context.Context, in *objInfo, path string) ([]uint32, error) {
	if in.stored {
		return t.storedInstances(path), nil
	}
	if ns, ok := t.lists[path]; ok {
		return ns, nil
	}
	if in.h == nil {
		return nil, nil
	}
	rec, err := t.call(ctx, in.h, &Request{Op: OpList, Path: path, Object: in.obj, Instances: instancesOf(path)})
	if err != nil {
		return nil, err
	}
	ns := rec.insts
	slices.Sort(ns)
	ns = slices.Compact(ns)
	if len(ns) > 0 && ns[0] == 0 {
		ns = ns[1:]
	}
	if t.lists == nil {
		t.lists = map[string][]uint32{}
	}
	t.lists[path] = ns
	return ns, nil
}

// values reads parameters of one object instance: the names given, or all
// of its supported parameters when names is nil. Counted parameters
// (…NumberOfEntries of supported tables) are computed.
func (t *txn) values(ctx context.Context, tg target, names []string) (map[string]string, error) {
	in := tg.in
	if names == nil {
		if !in.served {
			names = make([]string, 0, len(in.numEntries))
			for n := range in.numEntries {
				names = append(names, n)
			}
		} else {
			names = make([]string, 0, len(in.obj.Params))
			for _, p := range in.obj.Params {
				names = append(names, p.Name)
			}
		}
	}
	var out map[string]string
	ask := names
	if counted(in, names) {
		out = make(map[string]string, len(names))
		ask = nil
		for _, n := range names {
			if c := in.numEntries[n]; c != nil {
				ns, err := t.instances(ctx, c, tg.path+c.name+".")
				if err != nil {
					return nil, err
				}
				out[n] = fmt.Sprint(len(ns))
				continue
			}
			ask = append(ask, n)
		}
	}
	if len(ask) == 0 || !in.served {
		if out == nil {
			out = map[string]string{}
		}
		return out, nil
	}
	if in.stored {
		sp := t.storedParams(tg.path)
		if sp == nil {
			return nil, usperr.Errorf(usperr.CodeObjectNotFound, "%s does not exist", tg.path)
		}
		if out == nil {
			out = make(map[string]string, len(ask))
		}
		for _, n := range ask {
			out[n] = sp[n]
		}
	} else {
		rec, err := t.call(ctx, in.h, &Request{Op: OpGet, Path: tg.path, Object: in.obj, Instances: tg.insts, Names: ask})
		if err != nil {
			return nil, err
		}
		if out == nil && onlyAsked(rec.values, ask) {
			// The handler's own map holds the answer: names it did not
			// write read as "".
			out = rec.values
			for _, n := range ask {
				if _, ok := out[n]; !ok {
					out[n] = ""
				}
			}
		} else {
			if out == nil {
				out = make(map[string]string, len(ask))
			}
			for _, n := range ask {
				out[n] = rec.values[n]
			}
		}
	}
	for _, n := range ask {
		if p := in.obj.Param(n); p != nil && p.Secured && !t.caller.ReadSecured {
			out[n] = ""
		}
	}
	return out, nil
}

// counted reports whether one of names is a …NumberOfEntries parameter
// the engine computes.
func counted(in *objInfo, names []string) bool {
	if len(in.numEntries) == 0 {
		return false
	}
	for _, n := range names {
		if in.numEntries[n] != nil {
			return true
		}
	}
	return false
}

// onlyAsked reports whether vals, written by a handler, holds no name
// outside ask, for a few names (for more, copying is cheaper than
// checking).
func onlyAsked(vals map[string]string, ask []string) bool {
	if vals == nil || len(ask) > 8 {
		return false
	}
	for n := range vals {
		if !slices.Contains(ask, n) {
			return false
		}
	}
	return true
}

// instancesOf returns the instance numbers in an instantiated path.
func instancesOf(path string) []uint32 {
	var out []uint32
	for part := range strings.SplitSeq(path, ".") {
		if n, ok := parseInstance(part); ok {
			out = append(out, n)
		}
	}
	return out
}

func parseInstance(s string) (uint32, bool) {
	if s == "" || s[0] < '1' || s[0] > '9' || len(s) > 10 {
		return 0, false
	}
	var n uint64
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
		n = n*10 + uint64(s[i]-'0')
	}
	if n > 1<<32-1 {
		return 0, false
	}
	return uint32(n), true
}
