package lifecycle

import (
	"strings"
	"testing"
)

// TestRunInCProcessMatchesGo: the container's program sees the same signal dispositions,
// signal mask and open descriptors whether Go or C ran it: nothing the C shim ignored or
// opened reaches the container.
func TestRunInCProcessMatchesGo(t *testing.T) {
	e := newEnv(t)
	e.pinParent()
	args := []string{"--rm", "--network", "none", e.image, "sh", "-c",
		"grep -E '^Sig(Blk|Ign)' /proc/self/status; ls /proc/self/fd | tr '\\n' ' '"}
	first, inC := e.runTraced(args...)
	if inC || first.Code != 0 {
		t.Fatalf("the first run: %+v (in C: %v)", first, inC)
	}
	second, inC := e.runTraced(args...)
	if !inC {
		t.Fatalf("the second run did not run in C: %+v", second)
	}
	if first.Stdout != second.Stdout {
		t.Errorf("the program's signals and descriptors differ:\nGo:\n%s\nC:\n%s", first.Stdout, second.Stdout)
	}
	// The shim's own ignored signals (SIGPIPE, SIGTTOU...) do not reach the program.
	if !strings.Contains(first.Stdout, "SigIgn:\t0000000000000000") {
		t.Errorf("the Go run's program ignores signals:\n%s", first.Stdout)
	}
}
