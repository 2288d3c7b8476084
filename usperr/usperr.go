package usperr

import (
	"errors"
	"fmt"
)

// The vendor-specific range of error codes.
const (
	CodeVendorFirst uint32 = 7800
	CodeVendorLast  uint32 = 7999
)

type info struct{ name, msg string }

// Error is a USP error: a code, the path it concerns (if any) and a message
// for the err_msg field. Err, if set, is the underlying cause.
type Error struct {
	Code uint32
	Path string
	Msg  string
	Err  error
}

// New returns an error with code and message; an empty msg means the code's
// default message.
func New(code uint32, msg string) *Error {
	return &Error{Code: code, Msg: msg}
}

// Errorf returns an error with code and a formatted message; a %w verb sets
// Err.
func Errorf(code uint32, format string, args ...any) *Error {
	err := fmt.Errorf(format, args...)
	return &Error{Code: code, Msg: err.Error(), Err: errors.Unwrap(err)}
}

// WithPath returns a copy of e that concerns path p.
func (e *Error) WithPath(p string) *Error {
	c := *e
	c.Path = p
	return &c
}

// Error returns "CODE Default message: path: message".
func (e *Error) Error() string {
	s := fmt.Sprintf("%d %s", e.Code, DefaultMessage(e.Code))
	if e.Path != "" {
		s += ": " + e.Path
	}
	if e.Msg != "" {
		s += ": " + e.Msg
	}
	return s
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// USPErrorCode returns e.Code.
func (e *Error) USPErrorCode() uint32 { return e.Code }

// coder is implemented by errors of packages that cannot import usperr.
type coder interface{ USPErrorCode() uint32 }

// Code returns the USP error code of err: 0 for nil, the code of the first
// *Error or USPErrorCode() method found in its chain, else CodeInternal.
func Code(err error) uint32 {
	if err == nil {
		return 0
	}
	var c coder
	if errors.As(err, &c) {
		return c.USPErrorCode()
	}
	return CodeInternal
}

// Message returns the err_msg for err: the message of the first *Error in
// its chain (or its code's default message when empty), else err's text.
// An error that is not a USP error yields the default message of 7003, so
// internal details do not reach a peer. The message is cut to MaxMsg
// bytes (see Clip).
func Message(err error) string {
	return Clip(message(err), MaxMsg)
}

func message(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		if e.Msg != "" {
			return e.Msg
		}
		return DefaultMessage(e.Code)
	}
	var c coder
	if errors.As(err, &c) {
		return err.Error()
	}
	return DefaultMessage(CodeInternal)
}

// Known reports whether code is defined by TR-369 1.3 or in the vendor
// range.
func Known(code uint32) bool {
	_, ok := codes[code]
	return ok || IsVendor(code)
}

// IsVendor reports whether code is in the vendor-specific range.
func IsVendor(code uint32) bool { return code >= CodeVendorFirst && code <= CodeVendorLast }

// Name returns the constant name of code without its prefix
// ("InvalidPath"), "Vendor" for the vendor range, or "Unknown".
func Name(code uint32) string {
	if i, ok := codes[code]; ok {
		return i.name
	}
	if IsVendor(code) {
		return "Vendor"
	}
	return "Unknown"
}

// DefaultMessage returns the spec's name for code, such as "Invalid path".
func DefaultMessage(code uint32) string {
	if i, ok := codes[code]; ok {
		return i.msg
	}
	if IsVendor(code) {
		return "Vendor-specific error"
	}
	return fmt.Sprintf("Error %d", code)
}
