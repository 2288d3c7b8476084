package agent

import (
	"context"
	"errors"
	"strconv"
	"strings"

	"github.com/uspkit/uspkit/datamodel"
	"github.com/uspkit/uspkit/usperr"
)

// versionKey carries, in a request's context, the USP version of the
// Record the request came in.
type versionKey struct{}

// withVersion records the version field of the Record being processed,
// for the rules that differ between USP versions.
func withVersion(ctx context.Context, v string) context.Context {
	return context.WithValue(ctx, versionKey{}, v)
}

// atLeast reports whether the request in ctx came in a Record of USP
// version major.minor or later. A missing or unreadable version counts as
// 1.3, the version the Agent's messages are encoded in.
func atLeast(ctx context.Context, major, minor int) bool {
	v, _ := ctx.Value(versionKey{}).(string)
	maj, min := 1, 3
	if a, b, ok := strings.Cut(v, "."); ok {
		x, err1 := strconv.Atoi(a)
		y, err2 := strconv.Atoi(b)
		if err1 == nil && err2 == nil {
			maj, min = x, y
		}
	}
	return maj > major || maj == major && min >= minor
}

// missingArgument returns the Error that answers an Operate whose command
// lacks a mandatory input argument, for a Controller speaking USP 1.3 or
// earlier: there [R-OPR.5] asks for an Error of type 7004 Invalid
// arguments, and processing stops. From USP 1.4 the same requirement asks
// for a cmd_failure with 7027 in the OperateResp instead, which is what the
// engine reports; then missingArgument returns nil.
func missingArgument(ctx context.Context, res []datamodel.OperationResult) error {
	if atLeast(ctx, 1, 4) {
		return nil
	}
	for _, r := range res {
		if errors.Is(r.Err, datamodel.ErrMissingArgument) {
			return usperr.Errorf(usperr.CodeInvalidArguments, "%s: %s", r.Command, usperr.Message(r.Err))
		}
	}
	return nil
}
