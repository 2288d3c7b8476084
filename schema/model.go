package schema

import (
	"strings"
)

// ObjAccess is an object's access, in the order of USP's ObjAccessType.
type ObjAccess uint8

// Object access values.
const (
	ObjReadOnly ObjAccess = iota
	ObjAddDelete
	ObjAddOnly
	ObjDeleteOnly
)

// CanAdd reports whether instances may be added.
func (a ObjAccess) CanAdd() bool { return a == ObjAddDelete || a == ObjAddOnly }

// CanDelete reports whether instances may be deleted.
func (a ObjAccess) CanDelete() bool { return a == ObjAddDelete || a == ObjDeleteOnly }

// ParamAccess is a parameter's access, in the order of USP's
// ParamAccessType.
type ParamAccess uint8

// Parameter access values.
const (
	ReadOnly ParamAccess = iota
	ReadWrite
	WriteOnly
)

// Writable reports whether a Controller may set the parameter.
func (a ParamAccess) Writable() bool { return a != ReadOnly }

// ValueChange says whether the Agent honours ValueChange subscriptions on a
// parameter, in the order of USP's ValueChangeType.
type ValueChange uint8

// ValueChange values.
const (
	ValueChangeUnknown ValueChange = iota
	ValueChangeAllowed
	ValueChangeWillIgnore
)

// Status is the definition status of an item.
type Status uint8

// Status values.
const (
	StatusCurrent Status = iota
	StatusDeprecated
	StatusObsoleted
	StatusDeleted
)

// Model is a supported data model.
type Model struct {
	objects map[string]*Object
	order   []*Object
}

// New returns an empty Model.
func New() *Model {
	return &Model{objects: map[string]*Object{}}
}

// Object is an object or a table ("{i}" as its last instance identifier).
type Object struct {
	Path       string
	Multi      bool
	Access     ObjAccess
	UniqueKeys []UniqueKey
	MinEntries uint32
	// MaxEntries is 0 for unbounded.
	MaxEntries      uint32
	NumEntriesParam string
	EnableParam     string
	Status          Status

	Params   []*Param
	Commands []*Command
	Events   []*Event

	params   map[string]*Param
	commands map[string]*Command
	events   map[string]*Event
}

// UniqueKey is one set of parameters that identifies a table row.
type UniqueKey struct {
	Params []string
	// Functional keys identify the row by what it is; others (Alias) by
	// a name given to it.
	Functional bool
}

// Param is a parameter, or a command or event argument.
type Param struct {
	Name        string
	Type        *Type
	Access      ParamAccess
	WriteOnce   bool
	Default     string
	HasDefault  bool
	ValueChange ValueChange
	// Secured parameters read as the empty string.
	Secured   bool
	Mandatory bool
	Status    Status
}

// Command is an object's command; its Name ends in "()".
type Command struct {
	Name   string
	Async  bool
	Input  []*Param
	Output []*Param
	Status Status
}

// Event is an object's event; its Name ends in "!".
type Event struct {
	Name   string
	Args   []*Param
	Status Status
}

// Object returns the object at path ("Device.LocalAgent.Controller.{i}."),
// or nil.
func (m *Model) Object(path string) *Object { return m.objects[path] }

// Objects returns every object in definition order.
func (m *Model) Objects() []*Object { return m.order }

// Len returns the number of objects.
func (m *Model) Len() int { return len(m.order) }

// Param returns the parameter at path ("Device.DeviceInfo.UpTime"), or nil.
func (m *Model) Param(path string) *Param {
	obj, name := splitLast(path)
	if o := m.objects[obj]; o != nil {
		return o.params[name]
	}
	return nil
}

// Command returns the command at path ("Device.Reboot()"), or nil.
func (m *Model) Command(path string) *Command {
	obj, name := splitLast(path)
	if o := m.objects[obj]; o != nil {
		return o.commands[name]
	}
	return nil
}

// Event returns the event at path ("Device.Boot!"), or nil.
func (m *Model) Event(path string) *Event {
	obj, name := splitLast(path)
	if o := m.objects[obj]; o != nil {
		return o.events[name]
	}
	return nil
}

// Children returns the objects directly below o, in definition order: for
// "Device.X." these are "Device.X.Y." and "Device.X.Z.{i}.".
func (m *Model) Children(o *Object) []*Object {
	var out []*Object
	for _, c := range m.order {
		if c != o && parentOf(c.Path) == o.Path {
			out = append(out, c)
		}
	}
	return out
}

// Parent returns the object directly above o, or nil for the root.
func (m *Model) Parent(o *Object) *Object { return m.objects[parentOf(o.Path)] }

// Param returns o's parameter name, or nil.
func (o *Object) Param(name string) *Param { return o.params[name] }

// Command returns o's command name ("Reboot()"), or nil.
func (o *Object) Command(name string) *Command { return o.commands[name] }

// Event returns o's event name ("Boot!"), or nil.
func (o *Object) Event(name string) *Event { return o.events[name] }

// IsKey reports whether name is part of one of o's unique keys.
func (o *Object) IsKey(name string) bool {
	for _, k := range o.UniqueKeys {
		for _, p := range k.Params {
			if p == name {
				return true
			}
		}
	}
	return false
}

// Subset returns a Model with the objects of m whose paths are listed, in
// m's order. Where paths also name items of an object
// ("Device.DeviceInfo.UpTime", "Device.Reboot()"), only those items are
// kept; otherwise all of the object's items are. Unknown paths are
// returned in missing.
func (m *Model) Subset(paths []string) (sub *Model, missing []string) {
	sub = New()
	want := map[string]bool{}
	for _, p := range paths {
		want[p] = true
		if m.objects[p] == nil && m.Param(p) == nil && m.Command(p) == nil && m.Event(p) == nil {
			missing = append(missing, p)
		}
	}
	for _, o := range m.order {
		if !want[o.Path] {
			continue
		}
		c := *o
		c.Params, c.Commands, c.Events = nil, nil, nil
		c.params, c.commands, c.events = nil, nil, nil
		for _, p := range o.Params {
			if want[o.Path+p.Name] || !anyUnder(want, o.Path) {
				c.addParam(p)
			}
		}
		for _, cmd := range o.Commands {
			if want[o.Path+cmd.Name] || !anyUnder(want, o.Path) {
				c.addCommand(cmd)
			}
		}
		for _, ev := range o.Events {
			if want[o.Path+ev.Name] || !anyUnder(want, o.Path) {
				c.addEvent(ev)
			}
		}
		sub.add(&c)
	}
	return sub, missing
}

// anyUnder reports whether want names an item (not an object) of obj.
func anyUnder(want map[string]bool, obj string) bool {
	for p := range want {
		if rest, ok := strings.CutPrefix(p, obj); ok && rest != "" && !strings.Contains(rest, ".") {
			return true
		}
	}
	return false
}

func (m *Model) add(o *Object) {
	if _, dup := m.objects[o.Path]; !dup {
		m.order = append(m.order, o)
	} else {
		for i, x := range m.order {
			if x.Path == o.Path {
				m.order[i] = o
			}
		}
	}
	m.objects[o.Path] = o
}

func (o *Object) addParam(p *Param) {
	if o.params == nil {
		o.params = map[string]*Param{}
	}
	if _, dup := o.params[p.Name]; !dup {
		o.Params = append(o.Params, p)
	}
	o.params[p.Name] = p
}

func (o *Object) addCommand(c *Command) {
	if o.commands == nil {
		o.commands = map[string]*Command{}
	}
	if _, dup := o.commands[c.Name]; !dup {
		o.Commands = append(o.Commands, c)
	}
	o.commands[c.Name] = c
}

func (o *Object) addEvent(e *Event) {
	if o.events == nil {
		o.events = map[string]*Event{}
	}
	if _, dup := o.events[e.Name]; !dup {
		o.Events = append(o.Events, e)
	}
	o.events[e.Name] = e
}

// splitLast splits "Device.X.{i}.Name" into "Device.X.{i}." and "Name".
func splitLast(path string) (obj, name string) {
	i := strings.LastIndexByte(path, '.')
	if i < 0 {
		return "", path
	}
	return path[:i+1], path[i+1:]
}

// parentOf returns the path of the object above path: "Device.X.{i}.Y." →
// "Device.X.{i}."; "Device.X.{i}." → "Device."; "Device." → "".
func parentOf(path string) string {
	p := strings.TrimSuffix(path, ".")
	p = strings.TrimSuffix(p, ".{i}")
	i := strings.LastIndexByte(p, '.')
	if i < 0 {
		return ""
	}
	return p[:i+1]
}
