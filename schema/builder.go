package schema

import (
	"fmt"
	"math/big"
	"strings"
)

// ObjOption configures an object defined with Model.Define. ObjAccess
// values are ObjOptions.
type ObjOption interface{ applyObject(*Object) }

// ParamOption configures a parameter or argument. ParamAccess values are
// ParamOptions.
type ParamOption interface{ applyParam(*Param) }

type objFunc func(*Object)

func (f objFunc) applyObject(o *Object) { f(o) }

type paramFunc func(*Param)

func (f paramFunc) applyParam(p *Param) { f(p) }

func (a ObjAccess) applyObject(o *Object) { o.Access = a }
func (a ParamAccess) applyParam(p *Param) { p.Access = a }
func (v ValueChange) applyParam(p *Param) { p.ValueChange = v }

// Keys adds a functional unique key made of the named parameters.
func Keys(params ...string) ObjOption {
	return objFunc(func(o *Object) { o.UniqueKeys = append(o.UniqueKeys, UniqueKey{Params: params, Functional: true}) })
}

// AliasKey adds the non-functional unique key "Alias".
func AliasKey() ObjOption {
	return objFunc(func(o *Object) { o.UniqueKeys = append(o.UniqueKeys, UniqueKey{Params: []string{"Alias"}}) })
}

// Entries bounds a table's number of rows; max 0 is unbounded.
func Entries(min, max uint32) ObjOption {
	return objFunc(func(o *Object) { o.MinEntries, o.MaxEntries = min, max })
}

// NumEntries names the parent's parameter that counts a table's rows.
func NumEntries(param string) ObjOption {
	return objFunc(func(o *Object) { o.NumEntriesParam = param })
}

// EnableParam names a table's enable parameter.
func EnableParam(param string) ObjOption {
	return objFunc(func(o *Object) { o.EnableParam = param })
}

// Default sets a parameter's default value.
func Default(v string) ParamOption {
	return paramFunc(func(p *Param) { p.Default, p.HasDefault = v, true })
}

// Secured makes a parameter read as the empty string.
var Secured ParamOption = paramFunc(func(p *Param) { p.Secured = true })

// Mandatory marks a command argument as required.
var Mandatory ParamOption = paramFunc(func(p *Param) { p.Mandatory = true })

// Builder adds items to an object defined with Model.Define.
type Builder struct {
	m *Model
	o *Object
}

// Define adds (or replaces) the object at path and returns a Builder for
// its items. A path ending in ".{i}." is a table. It panics on a malformed
// path or a parent that is not defined yet (except for the root): a
// definition is program text, and mistakes show at start-up.
func (m *Model) Define(path string, opts ...ObjOption) *Builder {
	if !strings.HasSuffix(path, ".") || strings.Contains(path, "..") {
		panic(fmt.Sprintf("schema: Define(%q): an object path ends in one '.'", path))
	}
	if parent := parentOf(path); parent != "" && m.objects[parent] == nil {
		panic(fmt.Sprintf("schema: Define(%q): parent %s is not defined", path, parent))
	}
	o := &Object{Path: path, Multi: strings.HasSuffix(path, ".{i}.")}
	for _, opt := range opts {
		opt.applyObject(o)
	}
	m.add(o)
	return &Builder{m: m, o: o}
}

// Extend returns a Builder that adds items to the object already defined
// at path, for an area that adds parameters, commands or events to an
// object another package defines (Device.DeviceInfo's firmware
// parameters, Device.LocalAgent's TransferComplete!). An item of the same
// name replaces the earlier one. It panics when path is not defined.
func (m *Model) Extend(path string) *Builder {
	o := m.objects[path]
	if o == nil {
		panic(fmt.Sprintf("schema: Extend(%q): not defined", path))
	}
	return &Builder{m: m, o: o}
}

// Object returns the object being defined.
func (b *Builder) Object() *Object { return b.o }

// Param adds a parameter of type t (read-only unless an option says
// otherwise).
func (b *Builder) Param(name string, t *Type, opts ...ParamOption) *Builder {
	b.o.addParam(newParam(name, t, opts))
	return b
}

// Command adds a command; name ends in "()".
func (b *Builder) Command(name string, async bool, input, output []*Param) *Builder {
	if !strings.HasSuffix(name, "()") {
		panic(fmt.Sprintf("schema: command %q must end in ()", name))
	}
	b.o.addCommand(&Command{Name: name, Async: async, Input: input, Output: output})
	return b
}

// Event adds an event; name ends in "!".
func (b *Builder) Event(name string, args ...*Param) *Builder {
	if !strings.HasSuffix(name, "!") {
		panic(fmt.Sprintf("schema: event %q must end in !", name))
	}
	b.o.addEvent(&Event{Name: name, Args: args})
	return b
}

// Arg returns a command or event argument.
func Arg(name string, t *Type, opts ...ParamOption) *Param { return newParam(name, t, opts) }

func newParam(name string, t *Type, opts []ParamOption) *Param {
	if t == nil {
		panic(fmt.Sprintf("schema: parameter %s has no type", name))
	}
	p := &Param{Name: name, Type: t, ValueChange: ValueChangeAllowed}
	for _, opt := range opts {
		opt.applyParam(p)
	}
	return p
}

// Facet restricts a Type built with the constructors below.
type Facet func(*Type)

func newType(b Base, facets []Facet) *Type {
	t := &Type{Base: b}
	for _, f := range facets {
		f(t)
	}
	return t
}

// String returns a string type.
func String(f ...Facet) *Type { return newType(BaseString, f) }

// Boolean returns the boolean type.
func Boolean() *Type { return newType(BaseBoolean, nil) }

// Int returns an int (32-bit) type.
func Int(f ...Facet) *Type { return newType(BaseInt, f) }

// UnsignedInt returns an unsignedInt (32-bit) type.
func UnsignedInt(f ...Facet) *Type { return newType(BaseUnsignedInt, f) }

// Long returns a long (64-bit) type.
func Long(f ...Facet) *Type { return newType(BaseLong, f) }

// UnsignedLong returns an unsignedLong (64-bit) type.
func UnsignedLong(f ...Facet) *Type { return newType(BaseUnsignedLong, f) }

// DateTime returns the dateTime type.
func DateTime() *Type { return newType(BaseDateTime, nil) }

// Base64 returns a base64 type.
func Base64(f ...Facet) *Type { return newType(BaseBase64, f) }

// HexBinary returns a hexBinary type.
func HexBinary(f ...Facet) *Type { return newType(BaseHexBinary, f) }

// Decimal returns a decimal type.
func Decimal(f ...Facet) *Type { return newType(BaseDecimal, f) }

// MaxLen bounds the length.
func MaxLen(n int) Facet { return func(t *Type) { t.Sizes = append(t.Sizes, Size{Max: &n}) } }

// Len bounds the length on both sides.
func Len(min, max int) Facet {
	return func(t *Type) { t.Sizes = append(t.Sizes, Size{Min: &min, Max: &max}) }
}

// Min bounds a number from below.
func Min(n int64) Facet {
	return func(t *Type) { t.Ranges = append(t.Ranges, Range{Min: new(big.Rat).SetInt64(n)}) }
}

// Between bounds a number on both sides.
func Between(min, max int64) Facet {
	return func(t *Type) {
		t.Ranges = append(t.Ranges, Range{Min: new(big.Rat).SetInt64(min), Max: new(big.Rat).SetInt64(max)})
	}
}

// Enum lists the allowed values.
func Enum(values ...string) Facet { return func(t *Type) { t.Enums = append(t.Enums, values...) } }

// Pattern adds an allowed XML Schema pattern; it panics if the pattern does
// not compile.
func Pattern(p string) Facet {
	re, err := compilePattern(p)
	if err != nil {
		panic(fmt.Sprintf("schema: pattern %q: %v", p, err))
	}
	return func(t *Type) { t.Patterns = append(t.Patterns, re) }
}

// ListOf makes the type a comma-separated list of at most maxItems items
// (0: unbounded) and at most maxLen characters (0: unbounded).
func ListOf(maxItems, maxLen int) Facet {
	return func(t *Type) {
		l := &List{}
		if maxItems > 0 {
			l.MaxItems = &maxItems
		}
		if maxLen > 0 {
			l.Sizes = []Size{{Max: &maxLen}}
		}
		t.List = l
	}
}

// Ref marks the type as a path or instance reference.
func Ref() Facet { return func(t *Type) { t.Reference = true } }

// Named records the named data type a Type derives from ("Alias",
// "IPAddress").
func Named(name string) Facet { return func(t *Type) { t.Name = name } }

// MinLen bounds the length from below.
func MinLen(n int) Facet { return func(t *Type) { t.Sizes = append(t.Sizes, Size{Min: &n}) } }

// Bounds bounds a number by decimal strings; "" leaves a side open. It
// panics on a malformed bound.
func Bounds(min, max string) Facet { return BoundsStep(min, max, "") }

// BoundsStep is Bounds with a step ("" for none).
func BoundsStep(min, max, step string) Facet {
	rat := func(s string) *big.Rat {
		if s == "" {
			return nil
		}
		r, ok := new(big.Rat).SetString(s)
		if !ok {
			panic(fmt.Sprintf("schema: range bound %q is not a number", s))
		}
		return r
	}
	r := Range{Min: rat(min), Max: rat(max), Step: rat(step)}
	return func(t *Type) { t.Ranges = append(t.Ranges, r) }
}

// MinItems bounds a list's number of items from below; it applies after
// ListOf.
func MinItems(n int) Facet {
	return func(t *Type) {
		if t.List == nil {
			t.List = &List{}
		}
		t.List.MinItems = &n
	}
}

// NonFunctionalKeys adds a unique key that names a row rather than
// describing it, such as Alias.
func NonFunctionalKeys(params ...string) ObjOption {
	return objFunc(func(o *Object) { o.UniqueKeys = append(o.UniqueKeys, UniqueKey{Params: params}) })
}

// WriteOnce makes a parameter writable only until it has a value.
var WriteOnce ParamOption = paramFunc(func(p *Param) { p.Access, p.WriteOnce = ReadWrite, true })
