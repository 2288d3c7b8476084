//go:build !linux

package cli

import "errors"

func dontNeed(addr, n uintptr) error { return errors.ErrUnsupported }

func processCPU() int64 { return 0 }
