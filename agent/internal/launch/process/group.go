package process

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// maxReapRounds bounds the kill-and-reap loop of [reapGroup]. Each round kills
// the whole group and reaps every member re-parented to the agent; a run that
// forks while it is being killed needs a few rounds, never hundreds.
const maxReapRounds = 100

var subreaper struct {
	once sync.Once
	err  error
}

// becomeSubreaper marks the agent process as a child subreaper, once: a
// process orphaned by a run is then re-parented to the agent rather than to
// init, which in a container may never reap it, so the agent can reap it and
// the run's process group really disappears.
func becomeSubreaper() error {
	subreaper.once.Do(func() {
		if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
			subreaper.err = fmt.Errorf("set child subreaper: %w", err)
		}
	})
	return subreaper.err
}

// waitExited blocks until the process pid has exited, without reaping it: as
// long as the leader is a zombie its process group id cannot be reused, so the
// group can still be signalled safely.
func waitExited(pid int) error {
	for {
		var info unix.Siginfo
		err := unix.Waitid(unix.P_PID, pid, &info, unix.WEXITED|unix.WNOWAIT, nil)
		if !errors.Is(err, unix.EINTR) {
			return err
		}
	}
}

// signalGroup sends sig to every process of the group pgid. A group that is
// already gone is not an error.
func signalGroup(pgid int, sig unix.Signal) error {
	err := unix.Kill(-pgid, sig)
	if err != nil && !errors.Is(err, unix.ESRCH) {
		return fmt.Errorf("send %s to process group %d: %w", unix.SignalName(sig), pgid, err)
	}
	return nil
}

// reapGroup kills what is left of the process group pgid after its leader has
// exited, and reaps every member that was re-parented to the agent, until no
// member but the leader is left. It returns how many members other than the
// leader were still running when it was called, and how many it could not
// reap (their parent is neither the agent nor in the group). The leader is
// left for exec.Cmd.Wait.
func reapGroup(pgid int) (running, stuck int, err error) {
	members, err := groupMembers(pgid)
	if err != nil {
		return 0, 0, err
	}
	for _, m := range members {
		if m.pid != pgid && !m.zombie {
			running++
		}
	}

	self := os.Getpid()
	for range maxReapRounds {
		if err := signalGroup(pgid, unix.SIGKILL); err != nil {
			return running, 0, err
		}
		members, err := groupMembers(pgid)
		if err != nil {
			return running, 0, err
		}
		left, ours := 0, 0
		for _, m := range members {
			if m.pid == pgid {
				continue
			}
			left++
			if m.ppid == self {
				ours++
				reapChild(m.pid)
			}
		}
		if ours == 0 {
			// A member whose parent is outside both the group and the agent
			// cannot be reaped here.
			return running, left, nil
		}
	}
	return running, 0, fmt.Errorf("process group %d still has members after %d rounds of SIGKILL",
		pgid, maxReapRounds)
}

// reapChild waits for the child pid to exit and reaps it. A child that is
// already gone (reaped elsewhere) is not an error worth reporting.
func reapChild(pid int) {
	for {
		_, err := unix.Wait4(pid, nil, 0, nil)
		if !errors.Is(err, unix.EINTR) {
			return
		}
	}
}

type procEntry struct {
	pid, ppid int
	zombie    bool // the process has exited and waits to be reaped
}

// groupMembers lists the processes whose process group is pgid, from /proc.
func groupMembers(pgid int) ([]procEntry, error) {
	dir, err := os.ReadDir("/proc")
	if err != nil {
		return nil, fmt.Errorf("list processes: %w", err)
	}
	var members []procEntry
	for _, e := range dir {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		st, ok := readStat(pid)
		if ok && st.pgrp == pgid {
			members = append(members, procEntry{pid: pid, ppid: st.ppid, zombie: st.state == "Z"})
		}
	}
	return members, nil
}

type procStat struct {
	state      string
	ppid, pgrp int
}

// readStat returns the state, parent and process group of pid from
// /proc/pid/stat. It reports false when the process has gone or the file
// cannot be parsed.
func readStat(pid int) (procStat, bool) {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return procStat{}, false
	}
	// The command name in parentheses may itself hold spaces and ')', so the
	// fields are counted from the last ')': state, ppid, pgrp, ...
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return procStat{}, false
	}
	fields := strings.Fields(s[i+1:])
	if len(fields) < 3 {
		return procStat{}, false
	}
	ppid, err1 := strconv.Atoi(fields[1])
	pgrp, err2 := strconv.Atoi(fields[2])
	if err1 != nil || err2 != nil {
		return procStat{}, false
	}
	return procStat{state: fields[0], ppid: ppid, pgrp: pgrp}, true
}
