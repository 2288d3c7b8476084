package firmware

import (
	"context"
	"io"
)

// Image is what a bank holds.
type Image struct {
	// Name and Version are FirmwareImage.{i}.Name and Version (at most 64
	// characters each).
	Name, Version string
}

// Flash is a device's firmware storage: a fixed number of banks, numbered
// from 1, each holding at most one image. A vendor implements it for its
// flash layout; Dir is the implementation for a Linux host.
//
// The Service calls at most one of Write, Validate and Activate at a time
// for one bank, and may call the methods of different banks concurrently.
type Flash interface {
	// Banks is the number of banks; it does not change.
	Banks() int
	// Running is the bank the running image was started from.
	Running() int
	// Image reports what bank holds, ok false when it holds nothing
	// usable.
	Image(bank int) (img Image, ok bool)
	// Write replaces bank's image with the bytes of r. It must not change
	// the running bank.
	Write(ctx context.Context, bank int, r io.Reader) error
	// Validate checks the image Write left in bank and returns its name
	// and version.
	Validate(ctx context.Context, bank int) (Image, error)
	// SetBoot makes bank the one started at the next boot.
	SetBoot(ctx context.Context, bank int) error
	// Activate starts bank's image now, ending the running one: it arranges
	// the restart and returns; an error means nothing was changed.
	// commandKey is the Activate()'s, for the next start's Boot!.
	Activate(ctx context.Context, bank int, commandKey string) error
}

// BootReport says how this start came about, for Boot! and the image
// table; Dir.Boot returns it.
type BootReport struct {
	// FirmwareUpdated is set on the first start of a newly activated image
	// (Boot!'s FirmwareUpdated).
	FirmwareUpdated bool
	// Cause and CommandKey are Boot!'s when this start was caused by an
	// activation or a roll-back; Cause is "" otherwise.
	Cause, CommandKey string
	// FailedBank is a bank whose image failed to start and was rolled back
	// from (0 for none), and FailureLog why.
	FailedBank int
	FailureLog string
}
