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

// processUsage is the processor time the process used, in nanoseconds,
// and the minor page faults it took (each a page of memory or of a file
// mapped in).
func processUsage() procUsage {
	var ru unix.Rusage
	if unix.Getrusage(unix.RUSAGE_SELF, &ru) != nil {
		return procUsage{}
	}
	return procUsage{cpu: ru.Utime.Nano() + ru.Stime.Nano(), faults: int64(ru.Minflt)}
}
