package runtime_test

import (
	"strings"
	"testing"
)

func TestRunEcho(t *testing.T) {
	r := newRuntime(t)
	res := run(t, r, bundle(t, "", nil, "echo", "hello"))
	if res.status.ExitStatus() != 0 || res.out != "hello\n" {
		t.Fatalf("echo: status %v output %q", res.status, res.out)
	}
	_ = strings.TrimSpace
}
