// Package usperr holds the USP error codes of TR-369 1.3 and the error type
// that carries one through Go code.
//
// The codes are typed constants (CodeInternal, CodeInvalidPath, ...)
// generated from codes.txt by `go generate`. An *Error carries a code, an
// optional path and a message; Code digs the code out of any wrapped
// error chain, so a handler can return fmt.Errorf("saving: %w", err) and the
// right code still reaches the wire:
//
//	err := usperr.Errorf(usperr.CodeInvalidValue, "Enable: %q is not a boolean", v)
//	err = fmt.Errorf("set: %w", err)
//	usperr.Code(err)    // 7012
//	usperr.Message(err) // the err_msg to send
//
// Packages below usperr in the layering (pathname, endpoint, schema) do not
// import it: their errors carry a USPErrorCode() uint32 method, which Code
// recognises too. Any other error is 7003, Internal error.
package usperr

//go:generate go run ./internal/gen
