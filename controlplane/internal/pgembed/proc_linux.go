package pgembed

import (
	"os"
	"strconv"
	"strings"
	"syscall"
)

// setDeathSignal asks the kernel to send the server SIGQUIT (immediate
// shutdown, which also ends its backends) when the thread that started it
// exits. Go applies it after switching credentials, which would clear it.
func setDeathSignal(attr *syscall.SysProcAttr) {
	attr.Pdeathsig = syscall.SIGQUIT
}

// isPostgresProcess reports whether pid is a live (not zombie) process
// whose command name is postgres.
func isPostgresProcess(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	// The format is "pid (comm) state ...", and comm may itself hold spaces
	// or parentheses, so split at the last closing parenthesis.
	stat := string(b)
	open := strings.IndexByte(stat, '(')
	closing := strings.LastIndexByte(stat, ')')
	if open < 0 || closing < open || closing+2 >= len(stat) {
		return false
	}
	comm := stat[open+1 : closing]
	state := stat[closing+2]
	return comm == "postgres" && state != 'Z' && state != 'X'
}
