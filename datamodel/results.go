package datamodel

import (
	"fmt"

	"github.com/uspkit/uspkit/usperr"
)

// ParamSetting is one parameter to set in a Set or Add request.
type ParamSetting struct {
	Param    string // relative to the object
	Value    string
	Required bool
}

// ParamError is a parameter that failed.
type ParamError struct {
	// Param is relative to the object in response messages, and a full
	// path in a MessageError.
	Param string
	Code  uint32
	Msg   string
}

// MessageError is a request that failed as a whole: the agent answers it
// with a USP Error message.
type MessageError struct {
	Code      uint32
	Msg       string
	ParamErrs []ParamError
}

func (e *MessageError) Error() string {
	return fmt.Sprintf("%d %s", e.Code, e.Msg)
}

// USPErrorCode returns e.Code.
func (e *MessageError) USPErrorCode() uint32 { return e.Code }

// messageError builds the Error message of a failed request from the
// first failure. Paths in perrs are cut to usperr.MaxEchoPath bytes and
// messages come from usperr.Message (at most usperr.MaxMsg bytes), so an
// Error is small whatever the request held.
func messageError(err error, perrs []ParamError) *MessageError {
	if me, ok := err.(*MessageError); ok {
		return me
	}
	for i := range perrs {
		perrs[i].Param = usperr.EchoPath(perrs[i].Param)
	}
	return &MessageError{Code: usperr.Code(err), Msg: usperr.Message(err), ParamErrs: perrs}
}

// GetResult is the result of one requested path of a Get.
type GetResult struct {
	Path string
	// Err is set when the path failed; its USP code is usperr.Code(Err).
	Err     error
	Objects []Resolved
}

// Resolved is one object instance of a Get result and its parameters,
// named relative to it.
type Resolved struct {
	Path   string
	Params map[string]string
}

// UpdateObject is one object (or search path) of a Set request.
type UpdateObject struct {
	Path   string
	Params []ParamSetting
}

// UpdatedObjectResult is the result of one UpdateObject.
type UpdatedObjectResult struct {
	RequestedPath string
	// Err is set when the object failed (oper_failure); Failures then
	// say which instances failed and why.
	Err      error
	Failures []InstanceFailure
	Updated  []UpdatedInstance
}

// InstanceFailure is one object instance a Set could not update.
type InstanceFailure struct {
	Path      string
	ParamErrs []ParamError
}

// UpdatedInstance is one object instance a Set updated.
type UpdatedInstance struct {
	Path      string
	Params    map[string]string
	ParamErrs []ParamError
}

// CreateObject is one table (or search path to tables) of an Add request.
type CreateObject struct {
	Path   string
	Params []ParamSetting
}

// CreatedObjectResult is the result of creating one object.
type CreatedObjectResult struct {
	RequestedPath string
	// Err is set when the object was not created (oper_failure).
	Err        error
	Path       string // the instance created
	ParamErrs  []ParamError
	UniqueKeys map[string]string
}

// DeletedObjectResult is the result of one path of a Delete request.
type DeletedObjectResult struct {
	RequestedPath string
	// Err is set when the path failed as a whole (oper_failure).
	Err        error
	Affected   []string
	Unaffected []PathError
}

// PathError is an object instance that failed.
type PathError struct {
	Path string
	Code uint32
	Msg  string
}

// InstancesResult is the result of one path of a GetInstances request.
type InstancesResult struct {
	Path      string
	Err       error
	Instances []Instance
}

// Instance is an object instance and its unique keys.
type Instance struct {
	Path       string
	UniqueKeys map[string]string
}

func pathErr(path string, err error) PathError {
	return PathError{Path: path, Code: usperr.Code(err), Msg: usperr.Message(err)}
}

func paramErr(name string, err error) ParamError {
	return ParamError{Param: name, Code: usperr.Code(err), Msg: usperr.Message(err)}
}
