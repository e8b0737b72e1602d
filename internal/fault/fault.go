// Package fault is glassbox's fault injection for tests. GLASSBOX_FAULT names one point in
// the code (the environment reaches every glassbox process a CLI spawns: shims, inits): at
// "P" the process is killed there, as a crash or `kill -9` would leave it; at "pause:P" it
// stops there until the test lets it go, so a race can be set up step by step instead of
// hoped for. Unset, a point costs one getenv.
package fault

import (
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"
)

// Env is the switch's variable.
const Env = "GLASSBOX_FAULT"

// Crash kills this process with SIGKILL at point when GLASSBOX_FAULT=point: no deferred
// cleanup runs, fds close, children are orphaned.
func Crash(point string) {
	if os.Getenv(Env) == point {
		unix.Kill(os.Getpid(), unix.SIGKILL)
		select {} // the signal is on its way
	}
}

// Pause blocks at point when GLASSBOX_FAULT=pause:point: it creates PausedFile(dir, point),
// which tells the test the process got there, and returns once the test let it go with
// Release (or after a minute, so a test that dies does not leave a process stuck for good).
// Once released, the point does not stop anyone again (a retry loop passes it twice).
func Pause(point, dir string) {
	if os.Getenv(Env) != "pause:"+point {
		return
	}
	p := PausedFile(dir, point)
	if _, err := os.Lstat(p + ".released"); err == nil {
		return
	}
	if err := os.WriteFile(p, []byte(point), 0o600); err != nil {
		return
	}
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if _, err := os.Lstat(p); err != nil {
			return
		}
	}
	os.Remove(p)
}

// Release lets the process paused at point go on.
func Release(dir, point string) error {
	p := PausedFile(dir, point)
	return os.Rename(p, p+".released")
}

// PausedFile is the file that says a process waits at point (dir is glassbox's root).
func PausedFile(dir, point string) string { return filepath.Join(dir, "fault-"+point) }
