package cli

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// dontNeed is madvise(MADV_DONTNEED) on the n bytes at addr.
func dontNeed(addr, n uintptr) error {
	if _, _, errno := unix.Syscall(unix.SYS_MADVISE, addr, n, unix.MADV_DONTNEED); errno != 0 {
		return fmt.Errorf("madvise: %w", errno)
	}
	return nil
}

// processCPU is the processor time the process used, in nanoseconds.
func processCPU() int64 {
	var ru unix.Rusage
	if unix.Getrusage(unix.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}
