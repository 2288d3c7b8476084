// Package pathname parses, formats and matches USP Path Names (TR-369 1.3
// §"Path Names" and §"Other Path Decorators"), the TR-106 syntax every
// Endpoint must support [R-ARC.7].
//
//	p, err := pathname.Parse(`Device.IP.Interface.[Name=="eth0"].IPv4Address.*.IPAddress`)
//	if err != nil {
//		return err // *pathname.Error, USP code 7008
//	}
//	p.Kind        // pathname.KindParameter
//	p.IsSearch()  // true
//	p.Pattern()   // "Device.IP.Interface.{i}.IPv4Address.{i}.IPAddress"
//	obj, elem := p.Split() // obj is the object path, elem is "IPAddress"
//
// # Grammar
//
// The accepted syntax, in the notation of the TR-369 BNF:
//
//	path     = name ( '.' name | '.' inst | ref )* end
//	end      = '.' | "()" | '!' | ""
//	inst     = posnum | '*' | expr | "{i}"
//	expr     = '[' term ( "&&" term )* ']'
//	term     = relpath op value
//	relpath  = name ( ref? '.' name )*
//	ref      = '+' | '#' posnum '+' | "#*+"
//	op       = "==" | "!=" | "~=" | "<" | ">" | "<=" | ">="
//	value    = '"' literal '"' | bare
//	name     = [A-Za-z_] [A-Za-z0-9_-]*
//	posnum   = [1-9] [0-9]*               -- at most 4294967295
//	literal  = ( [^"%] | '%' hex hex )*
//	bare     = [A-Za-z0-9_+.:-]+
//
// with these constraints: an inst or a ref follows a name other than the
// first; a ref is followed by '.'; "()", '!' and "" follow a name; every
// path holds at least one '.'. In ModeReference the end may also be ""
// after an inst. In ModeRelative there is no root: the path need not hold
// a '.' and its first name may be followed by an inst or a ref.
//
// A path ending in '.' is an object path (KindObject): an object, an object
// instance, or a partial path in a Get. One ending in a name is a parameter
// path, in "()" a command path and in '!' an event path.
//
// Instance identifiers [R-ARC.8]: an instance number is a decimal integer
// of at least 1 with no sign and no leading zero ("01" and "0" are
// errors), as TR-106 writes instance numbers. An expression addresses by
// unique key when it lists a whole key with "==" (one or several
// components joined by "&&", in any order) and searches otherwise
// [R-ARC.9]; the syntax is the same, so the package does not tell them
// apart. '*' is a wildcard [R-ARC.10].
//
// Expressions: the left side is a relative parameter path that may follow
// references ("Interface+.Name") but never names a table instance. The
// right side is a quoted literal, in which '"' and '%' must be written as
// %22 and %25 (any %XX escape is accepted and a lone '%' is an error), or a
// bare constant (numbers with sign or leading zeros, true/false, dateTime,
// hexBinary): the engine converts it to the parameter's type. Blanks
// (space, tab) around operators, around "&&" and inside the brackets are
// tolerated [R-ARC.9a]; the canonical form has none [R-ARC.9b].
//
// Reference following: "+" after a parameter name follows the reference it
// holds, "#N+" follows item N of a list of references and "#*+" follows
// every item. It must be followed by '.', then by the end of the path or a
// relative path under the referenced object [R-ARC.11].
//
// Supported data model: "{i}" stands for any instance
// ("Device.LocalAgent.Controller.{i}.MTP.{i}."). A path holding "{i}"
// cannot hold a wildcard or expression, and no instance number may follow
// a "{i}" (TR-369 §"GetSupportedDM"). Reference following is allowed, so
// that the pattern of any path parses again.
//
// Names may contain '-' after the first character, as TR-106 vendor
// prefixes do ("X_EXAMPLE-COM_Feature"). No other character, blank or
// control byte is accepted outside expressions.
//
// # Limits
//
// Input longer than MaxLen bytes is rejected before it is read; scanning
// stops at MaxSegments segments or MaxTerms expression components.
//
// # Errors
//
// Every syntax error is a *Error with the byte offset of the problem. Its
// USPErrorCode method returns 7008 (Invalid path syntax). A well-formed
// path that names nothing in the supported data model is error 7026
// (Invalid path), which only the engine can decide and which this package
// never returns.
//
// # Speed
//
// Scanner walks a path without allocating: segments slice the input. The
// string functions AppendPattern, Match and Split build on it and do not
// allocate either. Parse allocates once for the segments and once more for
// the expression components, if any.
package pathname
