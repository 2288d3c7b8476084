package cli

import (
	"os"
	"syscall"
)

// restartSelf replaces the process with a fresh copy of itself, with the
// same arguments and environment: the Agent's Reboot().
func restartSelf() error {
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	return syscall.Exec(exe, os.Args, os.Environ())
}
