//go:build !linux

package cli

import "errors"

func dontNeed(addr, n uintptr) error { return errors.ErrUnsupported }

func processUsage() procUsage { return procUsage{} }
