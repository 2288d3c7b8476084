package datamodel

import (
	"context"
	"strings"

	"github.com/uspkit/uspkit/pathname"
	"github.com/uspkit/uspkit/schema"
	"github.com/uspkit/uspkit/usperr"
)

// SupportedOptions select what Supported reports.
type SupportedOptions struct {
	FirstLevelOnly bool
	Commands       bool
	Events         bool
	Params         bool
}

// SupportedResult is the result of one path of a GetSupportedDM request.
type SupportedResult struct {
	Path    string
	Err     error
	URI     string
	Objects []SupportedObject
}

// SupportedObject is one object of the supported data model, with the
// items the caller may see.
type SupportedObject struct {
	Path     string // "Device.Fan.{i}."
	Access   schema.ObjAccess
	Multi    bool
	Params   []*schema.Param
	Commands []*schema.Command
	Events   []*schema.Event
	// UniqueKeySets are the object's unique keys (USP 1.4).
	UniqueKeySets [][]string
	// Divergent lists instances whose supported data model differs; the
	// engine's model never diverges, so it is always empty.
	Divergent []string
}

// DataModelURI is the URI reported for our data model in GetSupportedDM.
const DataModelURI = "urn:broadband-forum-org:tr-181-2-16-0-usp"

// Supported describes the supported data model at and below each path
// (TR-369 "The GetSupportedDM Message"). Paths may be in supported form
// ("Device.Fan.{i}.", "Device.Fan.") or name existing instances
// ("Device.Fan.1.").
func (e *Engine) Supported(ctx context.Context, c Caller, paths []string, o SupportedOptions) []SupportedResult {
	e.mu.RLock()
	defer e.mu.RUnlock()
	t := e.read(c)
	out := make([]SupportedResult, 0, len(paths))
	for _, p := range paths {
		r := SupportedResult{Path: p, URI: DataModelURI}
		in, item, err := t.supportedObject(ctx, p)
		switch {
		case err != nil:
			r.Err, r.URI = err, ""
		case item != "":
			r.Objects, r.Err = e.describeItem(c, in, item, o)
		default:
			r.Objects = e.describe(c, in, o, r.Objects, true)
		}
		if r.Err != nil {
			r.URI = ""
		}
		out = append(out, r)
	}
	return out
}

// supportedObject finds the object a GetSupportedDM path names and, for
// a path to a parameter, command or event, the item's name. A path to an
// object ends in '.'; without it, it names no object (7026).
func (t *txn) supportedObject(ctx context.Context, path string) (*objInfo, string, error) {
	p, err := pathname.Parse(path)
	if err != nil {
		return nil, "", usperr.Errorf(usperr.CodeInvalidPathSyntax, "%v", err).WithPath(path)
	}
	if p.IsSearch() {
		return nil, "", errInvalidPath(path, "GetSupportedDM takes paths of the supported data model")
	}
	if p.Kind != pathname.KindObject {
		// Not an Object Path (those end in '.'): the path of a
		// parameter, command or event, or nothing at all.
		objPath, elem := p.Split()
		in, _, err := t.supportedObject(ctx, objPath.String())
		if err != nil {
			return nil, "", err
		}
		if err := checkElem(path, in, strings.TrimSuffix(strings.TrimSuffix(elem, "()"), "!"), p.Kind); err != nil {
			return nil, "", err
		}
		return in, elem, nil
	}
	in, err := t.supportedObjectPath(ctx, path, p)
	return in, "", err
}

func (t *txn) supportedObjectPath(ctx context.Context, path string, p pathname.Path) (*objInfo, error) {
	for _, s := range p.Segments {
		if s.Kind == pathname.TokenInstance {
			res, err := t.resolveParsed(ctx, path, p)
			if err != nil {
				return nil, err
			}
			if res.missing || len(res.targets) == 0 {
				return nil, usperr.Errorf(usperr.CodeObjectNotFound, "%s does not exist", path).WithPath(path)
			}
			return res.targets[0].in, nil
		}
		if s.Kind.IsRef() {
			return nil, errInvalidPath(path, "GetSupportedDM takes object paths")
		}
	}
	pat := p.Pattern()
	in := t.e.info[pat]
	if in == nil && !strings.HasSuffix(pat, "{i}.") {
		in = t.e.info[pat+"{i}."]
	}
	if in == nil {
		return nil, errInvalidPath(path, "%s is not in the supported data model", path)
	}
	return in, nil
}

// describeItem describes one parameter, command or event of in.
func (e *Engine) describeItem(c Caller, in *objInfo, item string, o SupportedOptions) ([]SupportedObject, error) {
	path := in.obj.Path
	if !c.permsOf(path, item).Has(ObjRead) {
		return nil, errInvalidPath(path+item, "%s%s is not in the supported data model", path, item)
	}
	so := SupportedObject{Path: path, Access: in.obj.Access, Multi: in.obj.Multi, Divergent: []string{}}
	switch {
	case strings.HasSuffix(item, "()"):
		if o.Commands {
			so.Commands = append(so.Commands, in.obj.Command(item))
		}
	case strings.HasSuffix(item, "!"):
		if o.Events {
			so.Events = append(so.Events, in.obj.Event(item))
		}
	default:
		if o.Params {
			if p := in.obj.Param(item); p != nil {
				so.Params = append(so.Params, p)
			} else {
				so.Params = append(so.Params, &schema.Param{Name: item, Type: schema.UnsignedInt()})
			}
		}
	}
	return []SupportedObject{so}, nil
}

// describe appends in and the objects below it (only the next level, and
// without their items, with FirstLevelOnly).
func (e *Engine) describe(c Caller, in *objInfo, o SupportedOptions, out []SupportedObject, top bool) []SupportedObject {
	path := in.obj.Path
	if !c.perms(path).Has(ObjRead) { // [R-GSP.0]
		return out
	}
	so := SupportedObject{Path: path, Access: in.obj.Access, Multi: in.obj.Multi, Divergent: []string{}}
	if !in.served {
		so.Access = schema.ObjReadOnly
	}
	items := top || !o.FirstLevelOnly
	if items && o.Params {
		for _, p := range in.obj.Params {
			_, counted := in.numEntries[p.Name]
			if (in.served || counted) && c.perms(path+p.Name).Has(ParamRead) {
				so.Params = append(so.Params, p)
			}
		}
	}
	if items && o.Commands {
		for _, cmd := range in.obj.Commands {
			if in.commands[cmd.Name] != nil && c.perms(path+cmd.Name).Has(CmdRead) {
				so.Commands = append(so.Commands, cmd)
			}
		}
	}
	if items && o.Events {
		for _, ev := range in.obj.Events {
			if c.permsOf(path, ev.Name).Has(CmdRead) {
				so.Events = append(so.Events, ev)
			}
		}
	}
	if items {
		for _, k := range in.obj.UniqueKeys {
			so.UniqueKeySets = append(so.UniqueKeySets, k.Params)
		}
	}
	out = append(out, so)
	if o.FirstLevelOnly && !top {
		return out
	}
	for _, ch := range in.children {
		out = e.describe(c, ch, o, out, false)
	}
	return out
}
