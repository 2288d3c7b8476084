package datamodel

import (
	"context"
	"errors"
	"maps"
	"strings"

	"github.com/uspkit/uspkit/pathname"
	"github.com/uspkit/uspkit/schema"
	"github.com/uspkit/uspkit/usperr"
)

// OperationResult is one command an Operate ran or started.
type OperationResult struct {
	// Command is the instantiated path of the command
	// ("Device.Fan.2.Reset()").
	Command string
	// Err is the command's failure (cmd_failure) for a synchronous
	// command, or a failure to start an asynchronous one.
	Err error
	// Output are the output arguments of a synchronous command.
	Output map[string]string
	// Async is set for an asynchronous command that was accepted: the
	// Agent creates its Request object, calls Async (which blocks until the
	// command completes or ctx is cancelled) and reports the outcome in an
	// OperationComplete notification.
	Async func(ctx context.Context) (map[string]string, error)
}

// Operate runs the command that path names on every object it resolves to
// (TR-369 "The Operate Message"), with the input arguments given. A path
// that does not name a supported command fails the request with a
// *MessageError; input the command does not accept fails that command
// (OperationResult.Err, 7027); a search path that matches nothing returns
// no results [R-MSG.4a].
func (e *Engine) Operate(ctx context.Context, c Caller, path, commandKey string, input map[string]string) ([]OperationResult, error) {
	type job struct {
		tg target
		h  Handler
	}
	e.mu.RLock()
	t := e.read(c)
	res, err := t.resolve(ctx, path)
	if err == nil && res.kind != pathname.KindCommand {
		err = errInvalidPath(path, "%s is not a command path", path)
	}
	if err == nil && res.missing && !res.search {
		err = usperr.Errorf(usperr.CodeObjectNotFound, "%s does not exist", path)
	}
	var jobs []job
	for i := 0; err == nil && i < len(res.targets); i++ {
		tg := res.targets[i]
		if !c.perms(tg.path + res.elem + "()").Has(CmdExec) {
			if !res.search {
				err = usperr.Errorf(usperr.CodePermissionDenied, "no permission to run %s%s()", tg.path, res.elem)
			}
			continue
		}
		jobs = append(jobs, job{tg: tg, h: tg.in.commands[res.elem+"()"]})
	}
	e.mu.RUnlock()
	if err != nil {
		return nil, messageError(err, nil)
	}
	var out []OperationResult
	for _, j := range jobs {
		cmd := j.tg.in.obj.Command(res.elem + "()")
		r := OperationResult{Command: j.tg.path + cmd.Name}
		input := maps.Clone(input)
		if input == nil {
			input = map[string]string{}
		}
		if err := checkInput(cmd.Input, input); err != nil {
			r.Err = err
			out = append(out, r)
			continue
		}
		// input is this job's own copy: the handler may keep it.
		req := &Request{Op: OpOperate, Path: j.tg.path, Object: j.tg.in.obj, Instances: j.tg.insts, Values: input,
			Command: cmd, CommandKey: commandKey, Caller: c}
		run := func(ctx context.Context) (map[string]string, error) {
			rec, err := t.call(ctx, j.h, req)
			if err != nil {
				return nil, usperr.Errorf(codeOr(err, usperr.CodeCommandFailure), "%s", usperr.Message(err))
			}
			if rec.values == nil {
				rec.values = map[string]string{}
			}
			return rec.values, nil
		}
		if cmd.Async {
			r.Async = run
		} else {
			r.Output, r.Err = run(ctx)
		}
		out = append(out, r)
	}
	return out, nil
}

// ErrMissingArgument is wrapped by the OperationResult.Err of a command
// run without one of its mandatory input arguments (7027, as USP 1.4's
// [R-OPR.5] has it; an Agent answering USP 1.3 turns it into an Error
// 7004).
var ErrMissingArgument = errors.New("datamodel: mandatory input argument missing")

// checkInput checks input arguments: every mandatory argument given and
// every value of its type (Invalid command arguments, 7027). Unknown
// arguments are ignored, as TP-469 1.91 expects; the handler does not see
// them.
func checkInput(args []*schema.Param, input map[string]string) error {
	for _, a := range args {
		v, ok := input[a.Name]
		if !ok {
			// An argument of a multi-instance argument object
			// ("TimeWindow.{i}.Start") is mandatory in each instance given,
			// which the command checks.
			if a.Mandatory && !strings.Contains(a.Name, "{i}") {
				e := usperr.Errorf(usperr.CodeInvalidCommandArgs, "missing mandatory argument %s", a.Name)
				e.Err = ErrMissingArgument
				return e
			}
			continue
		}
		if err := a.Type.Validate(v); err != nil {
			return usperr.Errorf(usperr.CodeInvalidCommandArgs, "argument %s: %v", a.Name, err)
		}
	}
	for name := range input {
		if !knownArg(args, name) {
			delete(input, name)
		}
	}
	return nil
}

func knownArg(args []*schema.Param, name string) bool {
	for _, a := range args {
		if a.Name == name {
			return true
		}
		if strings.Contains(a.Name, "{i}") && argMatches(a.Name, name) {
			return true
		}
	}
	return false
}

// argMatches reports whether an instantiated argument name ("Point.1.X")
// fits a pattern ("Point.{i}.X").
func argMatches(pattern, name string) bool {
	ps, ns := strings.Split(pattern, "."), strings.Split(name, ".")
	if len(ps) != len(ns) {
		return false
	}
	for i := range ps {
		if ps[i] == "{i}" {
			if _, ok := parseInstance(ns[i]); !ok {
				return false
			}
		} else if ps[i] != ns[i] {
			return false
		}
	}
	return true
}
