package datamodel

import (
	"context"
	"log/slog"
	"time"

	"github.com/uspkit/uspkit/schema"
)

// Op is the operation a Handler is asked to perform.
type Op uint8

// Operations.
const (
	// OpGet reads parameters of the object instance at Request.Path: the
	// handler writes each wanted parameter (Request.Names) with
	// ResponseWriter.SetValue. Names it does not write read as "".
	OpGet Op = iota + 1
	// OpList lists the instances of the table at Request.Path
	// ("Device.Fan."): the handler calls ResponseWriter.AddInstance for
	// each.
	OpList
	// OpSet sets Request.Values on the object instance at Request.Path.
	// With Request.CheckOnly the handler only says whether it would
	// succeed.
	OpSet
	// OpAdd creates an instance of the table at Request.Path with
	// Request.Values (the caller's values over the defaults) and reports
	// its instance number with ResponseWriter.AddInstance.
	OpAdd
	// OpDelete deletes the object instance at Request.Path.
	OpDelete
	// OpOperate runs Request.Command on the object at Request.Path with
	// the input arguments in Request.Values; output arguments are written
	// with ResponseWriter.SetValue. For an asynchronous command the call
	// may block until the command completes; its context is cancelled when
	// a Controller cancels the request.
	OpOperate
)

var opNames = [...]string{"?", "get", "list", "set", "add", "delete", "operate"}

func (o Op) String() string {
	if int(o) < len(opNames) {
		return opNames[o]
	}
	return "op?"
}

// Handler serves provided objects: live state read and changed on demand.
// A returned error carries its USP code when it has one (see
// usperr.Code); any other error is reported as 7003 (Internal error).
type Handler interface {
	ServeUSP(ctx context.Context, w ResponseWriter, r *Request) error
}

// HandlerFunc adapts a function to a Handler.
type HandlerFunc func(ctx context.Context, w ResponseWriter, r *Request) error

// ServeUSP calls f.
func (f HandlerFunc) ServeUSP(ctx context.Context, w ResponseWriter, r *Request) error {
	return f(ctx, w, r)
}

// Middleware wraps a Handler, for logging, metrics or vendor checks.
type Middleware func(Handler) Handler

// Request is one operation on one object, table or command.
type Request struct {
	Op Op
	// Path is instantiated: an object instance "Device.Fan.2.", a table
	// "Device.Fan." (OpList, OpAdd), or a single-instance object.
	Path string
	// Object is the supported object Path is an instance of.
	Object *schema.Object
	// Instances are the instance numbers in Path, outermost first.
	Instances []uint32
	// Names are the parameters wanted by OpGet.
	Names []string
	// Values are the parameter values of OpSet and OpAdd, or the input
	// arguments of OpOperate.
	Values map[string]string
	// CheckOnly asks OpSet, OpAdd or OpDelete to validate without
	// changing anything.
	CheckOnly bool
	// Command and CommandKey are set for OpOperate.
	Command    *schema.Command
	CommandKey string
	// Caller is who sent the message.
	Caller Caller
}

// ResponseWriter receives a Handler's answer.
type ResponseWriter interface {
	// SetValue reports a parameter value (OpGet) or an output argument
	// (OpOperate).
	SetValue(name, value string)
	// AddInstance reports an instance number (OpList, OpAdd).
	AddInstance(n uint32)
}

// Caller is the Controller (or other endpoint) a message came from.
type Caller struct {
	EndpointID string
	// Access decides what the caller may do; nil allows everything.
	Access Access
	// ReadSecured reads secured parameters (passwords) as they are, not
	// as the empty string: for the device's own use, and for a
	// Controller only when its role allows it (the Agent's SecuredRoles).
	ReadSecured bool
}

// Access is a caller's permissions, as an Agent derives them from its
// ControllerTrust roles (TR-181 Device.LocalAgent.ControllerTrust).
type Access interface {
	// Perms returns the permissions on path: an object or instance path
	// ("Device.Fan.2."), a parameter, a command or an event path.
	Perms(path string) Perms
}

// Perms is a set of permission bits, in the four families of a TR-181
// ControllerTrust Permission entry.
type Perms uint16

// Permission bits.
const (
	ParamRead Perms = 1 << iota
	ParamWrite
	ParamNotify
	ObjRead // the object's supported-data-model information
	ObjWrite
	ObjNotify
	InstRead // GetInstances, and reading instances in searches
	InstWrite
	InstNotify
	CmdRead
	CmdExec
	CmdNotify
	// AllPerms is every permission.
	AllPerms Perms = 1<<12 - 1
)

// Has reports whether every bit of q is in p.
func (p Perms) Has(q Perms) bool { return p&q == q }

func (c Caller) perms(path string) Perms {
	if c.Access == nil {
		return AllPerms
	}
	return c.Access.Perms(path)
}

// permsOf is perms(base + name), without building the path when the
// Caller has every permission.
func (c Caller) permsOf(base, name string) Perms {
	if c.Access == nil {
		return AllPerms
	}
	return c.Access.Perms(base + name)
}

// Logging returns Middleware that logs every handler call at debug level
// and failures at warn level.
func Logging(log *slog.Logger) Middleware {
	return func(next Handler) Handler {
		return HandlerFunc(func(ctx context.Context, w ResponseWriter, r *Request) error {
			start := time.Now()
			err := next.ServeUSP(ctx, w, r)
			if err != nil {
				log.WarnContext(ctx, "datamodel handler failed", "op", r.Op.String(), "path", r.Path, "err", err)
			} else {
				log.DebugContext(ctx, "datamodel handler", "op", r.Op.String(), "path", r.Path, "took", time.Since(start))
			}
			return err
		})
	}
}
