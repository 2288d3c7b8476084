package schema

import (
	"encoding/xml"
	"fmt"
	"io"
	"math/big"
	"strconv"
	"strings"
)

// The XML shapes of the TR-106 data-model schema that the loader reads.
// Description elements are not mapped, so their text is never kept.
type xDocument struct {
	DataTypes []xDataType `xml:"dataType"`
	Models    []xModel    `xml:"model"`
}

type xModel struct {
	Name    string    `xml:"name,attr"`
	Objects []xObject `xml:"object"`
}

type xObject struct {
	Name            string       `xml:"name,attr"`
	Access          string       `xml:"access,attr"`
	MinEntries      string       `xml:"minEntries,attr"`
	MaxEntries      string       `xml:"maxEntries,attr"`
	NumEntriesParam string       `xml:"numEntriesParameter,attr"`
	EnableParam     string       `xml:"enableParameter,attr"`
	Status          string       `xml:"status,attr"`
	UniqueKeys      []xUniqueKey `xml:"uniqueKey"`
	Params          []xParam     `xml:"parameter"`
	Commands        []xCommand   `xml:"command"`
	Events          []xEvent     `xml:"event"`
}

type xUniqueKey struct {
	Functional string `xml:"functional,attr"`
	Params     []struct {
		Ref string `xml:"ref,attr"`
	} `xml:"parameter"`
}

type xParam struct {
	Name         string   `xml:"name,attr"`
	Access       string   `xml:"access,attr"`
	Status       string   `xml:"status,attr"`
	ActiveNotify string   `xml:"activeNotify,attr"`
	Mandatory    string   `xml:"mandatory,attr"`
	Syntax       *xSyntax `xml:"syntax"`
}

type xSyntax struct {
	Hidden  string `xml:"hidden,attr"`
	Secured string `xml:"secured,attr"`
	xFacetHolder
	List     *xList      `xml:"list"`
	DataType *xTypeRef   `xml:"dataType"`
	Default  *xDefault   `xml:"default"`
	Bases    []xBaseType `xml:",any"`
}

// xFacetHolder is embedded where facets may appear.
type xFacetHolder struct {
	Sizes       []xSize   `xml:"size"`
	Ranges      []xRange  `xml:"range"`
	Enums       []xEnum   `xml:"enumeration"`
	Patterns    []xEnum   `xml:"pattern"`
	PathRef     *struct{} `xml:"pathRef"`
	InstanceRef *struct{} `xml:"instanceRef"`
}

// xBaseType is any base-type element (<string>, <unsignedInt>, ...).
type xBaseType struct {
	XMLName xml.Name
	xFacetHolder
}

type xTypeRef struct {
	Ref  string `xml:"ref,attr"`
	Base string `xml:"base,attr"` // an anonymous type derived inline

	xFacetHolder
}

type xList struct {
	MinItems string  `xml:"minItems,attr"`
	MaxItems string  `xml:"maxItems,attr"`
	Sizes    []xSize `xml:"size"`
}

type xSize struct {
	Min string `xml:"minLength,attr"`
	Max string `xml:"maxLength,attr"`
}

type xRange struct {
	Min  string `xml:"minInclusive,attr"`
	Max  string `xml:"maxInclusive,attr"`
	Step string `xml:"step,attr"`
}

type xEnum struct {
	Value  string `xml:"value,attr"`
	Status string `xml:"status,attr"`
}

type xDefault struct {
	Type  string `xml:"type,attr"`
	Value string `xml:"value,attr"`
}

type xDataType struct {
	Name string `xml:"name,attr"`
	Base string `xml:"base,attr"`
	xFacetHolder
	List  *xList      `xml:"list"`
	Bases []xBaseType `xml:",any"`
}

type xCommand struct {
	Name   string `xml:"name,attr"`
	Async  string `xml:"async,attr"`
	Status string `xml:"status,attr"`
	Input  *xArgs `xml:"input"`
	Output *xArgs `xml:"output"`
}

type xArgs struct {
	Params  []xParam  `xml:"parameter"`
	Objects []xObject `xml:"object"`
}

type xEvent struct {
	Name    string    `xml:"name,attr"`
	Status  string    `xml:"status,attr"`
	Params  []xParam  `xml:"parameter"`
	Objects []xObject `xml:"object"`
}

// LoadOptions tune LoadXML. A nil *LoadOptions means the defaults.
type LoadOptions struct {
	// Types are named data types known before the document is read, such
	// as those of TR-106's types file (see LoadTypes); nil means none.
	Types map[string]*Type
	// Deleted keeps items whose status is "deleted"; by default they are
	// dropped.
	Deleted bool
}

// LoadXML reads a data-model document in the TR-106 XML format and returns
// the objects of its model (the first <model> element).
func LoadXML(r io.Reader, o *LoadOptions) (*Model, error) {
	var doc xDocument
	if err := xml.NewDecoder(r).Decode(&doc); err != nil {
		return nil, fmt.Errorf("schema: reading XML: %w", err)
	}
	l := loader{types: map[string]*Type{}, xtypes: map[string]*xDataType{}, keepDeleted: o != nil && o.Deleted}
	if o != nil {
		for k, v := range o.Types {
			l.types[k] = v
		}
	}
	for i := range doc.DataTypes {
		l.xtypes[doc.DataTypes[i].Name] = &doc.DataTypes[i]
	}
	if len(doc.Models) == 0 {
		return nil, fmt.Errorf("schema: the document has no <model>")
	}
	m := New()
	for i := range doc.Models[0].Objects {
		if err := l.object(m, &doc.Models[0].Objects[i]); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// LoadTypes reads the named data types of a TR-106 types document (such as
// tr-106-types.xml), to pass to LoadXML.
func LoadTypes(r io.Reader) (map[string]*Type, error) {
	var doc xDocument
	if err := xml.NewDecoder(r).Decode(&doc); err != nil {
		return nil, fmt.Errorf("schema: reading XML: %w", err)
	}
	l := loader{types: map[string]*Type{}, xtypes: map[string]*xDataType{}}
	for i := range doc.DataTypes {
		l.xtypes[doc.DataTypes[i].Name] = &doc.DataTypes[i]
	}
	for name := range l.xtypes {
		if _, err := l.named(name, 0); err != nil {
			return nil, err
		}
	}
	return l.types, nil
}

type loader struct {
	types       map[string]*Type
	xtypes      map[string]*xDataType
	keepDeleted bool
}

func (l *loader) object(m *Model, x *xObject) error {
	st := status(x.Status)
	if st == StatusDeleted && !l.keepDeleted {
		return nil
	}
	if !strings.HasSuffix(x.Name, ".") || strings.HasPrefix(x.Name, ".") || strings.Contains(x.Name, "..") {
		return fmt.Errorf("schema: object %q: a path ends in one '.'", x.Name)
	}
	o := &Object{Path: x.Name, Multi: strings.HasSuffix(x.Name, ".{i}."), NumEntriesParam: x.NumEntriesParam,
		EnableParam: x.EnableParam, Status: st}
	switch x.Access {
	case "readOnly", "":
	case "readWrite":
		if o.Multi {
			o.Access = ObjAddDelete
		}
	default:
		return fmt.Errorf("schema: object %s: unknown access %q", x.Name, x.Access)
	}
	o.MinEntries = uint32(atoiDefault(x.MinEntries, 0))
	if x.MaxEntries != "unbounded" {
		o.MaxEntries = uint32(atoiDefault(x.MaxEntries, 0))
	}
	for _, k := range x.UniqueKeys {
		uk := UniqueKey{Functional: k.Functional != "false"}
		for _, p := range k.Params {
			uk.Params = append(uk.Params, p.Ref)
		}
		o.UniqueKeys = append(o.UniqueKeys, uk)
	}
	for i := range x.Params {
		p, err := l.param(&x.Params[i])
		if err != nil {
			return fmt.Errorf("schema: %s%s: %w", x.Name, x.Params[i].Name, err)
		}
		if p != nil {
			o.addParam(p)
		}
	}
	for i := range x.Commands {
		c, err := l.command(&x.Commands[i])
		if err != nil {
			return fmt.Errorf("schema: %s%s: %w", x.Name, x.Commands[i].Name, err)
		}
		if c != nil {
			o.addCommand(c)
		}
	}
	for i := range x.Events {
		e, err := l.event(&x.Events[i])
		if err != nil {
			return fmt.Errorf("schema: %s%s: %w", x.Name, x.Events[i].Name, err)
		}
		if e != nil {
			o.addEvent(e)
		}
	}
	m.add(o)
	return nil
}

func (l *loader) param(x *xParam) (*Param, error) {
	st := status(x.Status)
	if st == StatusDeleted && !l.keepDeleted {
		return nil, nil
	}
	p := &Param{Name: x.Name, Status: st, Mandatory: x.Mandatory == "true", ValueChange: ValueChangeAllowed}
	switch x.Access {
	case "readOnly", "":
	case "readWrite":
		p.Access = ReadWrite
	case "writeOnceReadOnly":
		p.Access, p.WriteOnce = ReadWrite, true
	default:
		return nil, fmt.Errorf("unknown access %q", x.Access)
	}
	if x.ActiveNotify == "canDeny" {
		p.ValueChange = ValueChangeWillIgnore
	}
	if x.Syntax == nil {
		return nil, fmt.Errorf("no syntax")
	}
	s := x.Syntax
	p.Secured = s.Secured == "true" || s.Hidden == "true"
	t, err := l.syntax(s)
	if err != nil {
		return nil, err
	}
	p.Type = t
	if d := s.Default; d != nil && (d.Type == "object" || d.Type == "factory") {
		p.Default, p.HasDefault = d.Value, true
	}
	return p, nil
}

// syntax builds the Type of a <syntax> element.
func (l *loader) syntax(s *xSyntax) (*Type, error) {
	var t *Type
	switch {
	case s.DataType != nil:
		ref := s.DataType.Ref
		if ref == "" {
			ref = s.DataType.Base
		}
		named, err := l.named(ref, 0)
		if err != nil {
			return nil, err
		}
		c := *named
		t = &c
		if err := t.overlay(&s.DataType.xFacetHolder); err != nil {
			return nil, err
		}
	default:
		var err error
		if t, err = baseType(s.Bases); err != nil {
			return nil, err
		}
	}
	if s.List != nil {
		list, err := makeList(s.List)
		if err != nil {
			return nil, err
		}
		t.List = list
	}
	return t, nil
}

// baseType builds a Type from the base-type element among els.
func baseType(els []xBaseType) (*Type, error) {
	for i := range els {
		b, ok := baseByName(els[i].XMLName.Local)
		if !ok {
			continue
		}
		t := &Type{Base: b}
		if err := t.overlay(&els[i].xFacetHolder); err != nil {
			return nil, err
		}
		return t, nil
	}
	return nil, fmt.Errorf("no base type")
}

// named resolves a named data type, following its base chain.
func (l *loader) named(name string, depth int) (*Type, error) {
	if t, ok := l.types[name]; ok {
		return t, nil
	}
	if depth > 16 {
		return nil, fmt.Errorf("data type %s: base chain too deep", name)
	}
	x, ok := l.xtypes[name]
	if !ok {
		return nil, fmt.Errorf("unknown data type %q", name)
	}
	var t *Type
	if x.Base != "" {
		base, err := l.named(x.Base, depth+1)
		if err != nil {
			return nil, err
		}
		c := *base
		t = &c
		if err := t.overlay(&x.xFacetHolder); err != nil {
			return nil, fmt.Errorf("data type %s: %w", name, err)
		}
	} else {
		var err error
		if t, err = baseType(x.Bases); err != nil {
			return nil, fmt.Errorf("data type %s: %w", name, err)
		}
	}
	if x.List != nil {
		list, err := makeList(x.List)
		if err != nil {
			return nil, err
		}
		t.List = list
	}
	t.Name = name
	l.types[name] = t
	return t, nil
}

// overlay replaces t's facets with those given in f (a derived type's
// facets restrict its base's).
func (t *Type) overlay(f *xFacetHolder) error {
	if len(f.Sizes) > 0 {
		t.Sizes = nil
		for _, s := range f.Sizes {
			t.Sizes = append(t.Sizes, Size{Min: atoiPtr(s.Min), Max: atoiPtr(s.Max)})
		}
	}
	if len(f.Ranges) > 0 {
		t.Ranges = nil
		for _, r := range f.Ranges {
			rg, err := makeRange(r)
			if err != nil {
				return err
			}
			t.Ranges = append(t.Ranges, rg)
		}
	}
	if len(f.Enums) > 0 {
		t.Enums = nil
		for _, e := range f.Enums {
			if status(e.Status) != StatusDeleted {
				t.Enums = append(t.Enums, e.Value)
			}
		}
	}
	if len(f.Patterns) > 0 {
		t.Patterns = nil
		for _, p := range f.Patterns {
			re, err := compilePattern(p.Value)
			if err != nil {
				return fmt.Errorf("pattern %q: %w", p.Value, err)
			}
			t.Patterns = append(t.Patterns, re)
		}
	}
	if f.PathRef != nil || f.InstanceRef != nil {
		t.Reference = true
	}
	return nil
}

func makeRange(r xRange) (Range, error) {
	var out Range
	for _, f := range []struct {
		s   string
		dst **big.Rat
	}{{r.Min, &out.Min}, {r.Max, &out.Max}, {r.Step, &out.Step}} {
		if f.s == "" {
			continue
		}
		v, ok := new(big.Rat).SetString(f.s)
		if !ok {
			return out, fmt.Errorf("range bound %q is not a number", f.s)
		}
		*f.dst = v
	}
	return out, nil
}

func makeList(x *xList) (*List, error) {
	l := &List{MinItems: atoiPtr(x.MinItems), MaxItems: atoiPtr(x.MaxItems)}
	for _, s := range x.Sizes {
		l.Sizes = append(l.Sizes, Size{Min: atoiPtr(s.Min), Max: atoiPtr(s.Max)})
	}
	return l, nil
}

func (l *loader) command(x *xCommand) (*Command, error) {
	st := status(x.Status)
	if st == StatusDeleted && !l.keepDeleted {
		return nil, nil
	}
	c := &Command{Name: x.Name, Async: x.Async == "true", Status: st}
	var err error
	if x.Input != nil {
		if c.Input, err = l.args(x.Input.Params, x.Input.Objects); err != nil {
			return nil, fmt.Errorf("input: %w", err)
		}
	}
	if x.Output != nil {
		if c.Output, err = l.args(x.Output.Params, x.Output.Objects); err != nil {
			return nil, fmt.Errorf("output: %w", err)
		}
	}
	return c, nil
}

func (l *loader) event(x *xEvent) (*Event, error) {
	st := status(x.Status)
	if st == StatusDeleted && !l.keepDeleted {
		return nil, nil
	}
	args, err := l.args(x.Params, x.Objects)
	if err != nil {
		return nil, err
	}
	return &Event{Name: x.Name, Args: args, Status: st}, nil
}

// args flattens argument parameters and argument objects; a parameter of
// an argument object is named by its relative path ("Result.{i}.Status").
func (l *loader) args(params []xParam, objects []xObject) ([]*Param, error) {
	var out []*Param
	for i := range params {
		p, err := l.param(&params[i])
		if err != nil {
			return nil, fmt.Errorf("%s: %w", params[i].Name, err)
		}
		if p != nil {
			out = append(out, p)
		}
	}
	for _, o := range objects {
		for i := range o.Params {
			p, err := l.param(&o.Params[i])
			if err != nil {
				return nil, fmt.Errorf("%s%s: %w", o.Name, o.Params[i].Name, err)
			}
			if p != nil {
				c := *p
				c.Name = o.Name + p.Name
				out = append(out, &c)
			}
		}
	}
	return out, nil
}

func status(s string) Status {
	switch s {
	case "deprecated":
		return StatusDeprecated
	case "obsoleted":
		return StatusObsoleted
	case "deleted":
		return StatusDeleted
	}
	return StatusCurrent
}

func atoiPtr(s string) *int {
	if s == "" || s == "unbounded" {
		return nil
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return nil
	}
	return &n
}

func atoiDefault(s string, def int) int {
	if p := atoiPtr(s); p != nil {
		return *p
	}
	return def
}
