//go:build !linux

package pgembed

import (
	"errors"
	"syscall"
)

// setDeathSignal does nothing: only Linux offers a parent-death signal, so
// elsewhere the server outlives a caller that dies without stopping it.
func setDeathSignal(*syscall.SysProcAttr) {}

// isPostgresProcess reports whether pid is alive. Without /proc the command
// name cannot be read cheaply, so any live process counts.
func isPostgresProcess(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}
