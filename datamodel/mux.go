package datamodel

import (
	"context"
	"fmt"
	"strings"

	"github.com/uspkit/uspkit/schema"
)

// Mux binds the objects and commands of a supported data model to the
// Handlers that provide them, or marks them stored. An object is served by
// the binding of its own path or, failing that, of its nearest ancestor's;
// a command by its own binding or its object's. Objects with no binding
// in their ancestry are not supported, except as the path down to
// supported ones.
//
// Registration is checked against the schema: an unknown or already bound
// path is a programming error and panics, as net/http's ServeMux does.
type Mux struct {
	model    *schema.Model
	bindings map[string]*binding
	mw       []Middleware
}

type binding struct {
	pattern string
	h       Handler // nil for stored objects
	stored  bool
	check   CheckFunc
}

// CheckFunc checks a change to a stored object before the engine makes it.
// r.Op is OpAdd, OpSet or OpDelete; r.Path the object instance; r.Values
// the whole row as it will be (OpAdd, OpSet) or as it is (OpDelete). For
// OpAdd and OpSet the function may change r.Values, to fill in values the
// Agent assigns. An error fails the change with its USP code. It runs
// with the engine locked and must not call the Engine.
type CheckFunc func(ctx context.Context, r *Request) error

// NewMux returns an empty Mux over the supported data model m.
func NewMux(m *schema.Model) *Mux {
	return &Mux{model: m, bindings: map[string]*binding{}}
}

// Model returns the Mux's data model.
func (mx *Mux) Model() *schema.Model { return mx.model }

// Handle binds pattern — an object ("Device.Fan.{i}.") or a command
// ("Device.Fan.{i}.Reset()") of the model — to h.
func (mx *Mux) Handle(pattern string, h Handler) {
	if h == nil {
		panic(fmt.Sprintf("datamodel: Handle(%q): nil handler", pattern))
	}
	mx.bind(pattern, &binding{pattern: pattern, h: h})
}

// HandleFunc binds pattern to f.
func (mx *Mux) HandleFunc(pattern string, f func(ctx context.Context, w ResponseWriter, r *Request) error) {
	mx.Handle(pattern, HandlerFunc(f))
}

// Store marks the object at pattern, and every object below it that has no
// binding of its own, as stored by the engine. check, if not nil, checks
// every change to the object itself (not to the objects below it).
func (mx *Mux) Store(pattern string, check CheckFunc) {
	if strings.HasSuffix(pattern, "()") {
		panic(fmt.Sprintf("datamodel: Store(%q): a command cannot be stored", pattern))
	}
	mx.bind(pattern, &binding{pattern: pattern, stored: true, check: check})
}

// Use adds middleware around every Handler, the first outermost.
func (mx *Mux) Use(mw ...Middleware) { mx.mw = append(mx.mw, mw...) }

func (mx *Mux) bind(pattern string, b *binding) {
	switch {
	case strings.HasSuffix(pattern, "()"):
		if mx.model.Command(pattern) == nil {
			panic(fmt.Sprintf("datamodel: %s is not a command of the data model", pattern))
		}
	case mx.model.Object(pattern) == nil:
		panic(fmt.Sprintf("datamodel: %s is not an object of the data model", pattern))
	}
	if old := mx.bindings[pattern]; old != nil {
		panic(fmt.Sprintf("datamodel: %s is already bound", pattern))
	}
	mx.bindings[pattern] = b
}

// handler returns b's handler wrapped in the middleware.
func (mx *Mux) wrap(h Handler) Handler {
	for i := len(mx.mw) - 1; i >= 0; i-- {
		h = mx.mw[i](h)
	}
	return h
}

// objectBinding returns the binding serving object o, or nil.
func (mx *Mux) objectBinding(o *schema.Object) *binding {
	for p := o.Path; p != ""; p = parentPattern(p) {
		if b := mx.bindings[p]; b != nil {
			return b
		}
	}
	return nil
}

// parentPattern returns the pattern of the object above p.
func parentPattern(p string) string {
	s := strings.TrimSuffix(p, ".")
	s = strings.TrimSuffix(s, ".{i}")
	i := strings.LastIndexByte(s, '.')
	if i < 0 {
		return ""
	}
	return s[:i+1]
}
