package pathname

import "strconv"

// codeInvalidPathSyntax is the TR-369 error code "Invalid path syntax".
const codeInvalidPathSyntax uint32 = 7008

// Error reports a Path Name that does not follow the grammar.
//
// Every *Error maps to USP error 7008 (Invalid path syntax). A path that is
// well formed but names nothing in the supported data model is a 7026
// (Invalid path); only the engine, which knows the model, can report that.
type Error struct {
	Path   string // the input as given
	Offset int    // byte offset in Path where the problem was found
	Msg    string // what is wrong
}

// maxQuoted bounds how much of the input an error message repeats.
const maxQuoted = 96

// Error formats e as "pathname: <msg> at offset N in "<path>"".
func (e *Error) Error() string {
	p := e.Path
	if len(p) > maxQuoted {
		p = p[:maxQuoted] + "..."
	}
	return "pathname: " + e.Msg + " at offset " + strconv.Itoa(e.Offset) + " in " + strconv.Quote(p)
}

// USPErrorCode returns 7008, the TR-369 code for invalid path syntax.
// Package usperr finds this method anywhere in a wrapped error chain.
func (e *Error) USPErrorCode() uint32 { return codeInvalidPathSyntax }
