package process

import (
	"runtime"
	"sync"
)

// spawner runs process starts on one OS thread that never exits.
//
// Linux ties Pdeathsig to the thread that forked the child, not to the
// process: a child started from a thread that the Go runtime later retires
// would be killed with that thread. Forking every child from a thread locked
// for the agent's whole life makes Pdeathsig mean "when the agent dies".
var spawner struct {
	once  sync.Once
	calls chan func()
}

// onSpawnThread runs f on the spawner's thread and returns when f has.
func onSpawnThread(f func()) {
	spawner.once.Do(func() {
		spawner.calls = make(chan func())
		go func() {
			runtime.LockOSThread() // never unlocked: the thread must outlive every child
			for call := range spawner.calls {
				call()
			}
		}()
	})
	done := make(chan struct{})
	spawner.calls <- func() {
		defer close(done)
		f()
	}
	<-done
}
