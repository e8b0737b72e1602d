package lifecycle

import (
	"strings"
	"testing"

	"github.com/glassbox/glassbox/test/fixture"
)

// TestRunPullsMissingImage: run and create pull an image the store lacks, as docker's do
// (--pull missing, saying so on stderr, stdout left to the container), --pull never leaves it
// an error, --pull always pulls an image the store has, and a bad --pull value is refused
// before anything is made.
func TestRunPullsMissingImage(t *testing.T) {
	fixture.NeedRoot(t)
	image := fixture.SharedBusybox(t)
	fresh := func() *env {
		root := t.TempDir()
		e := &env{CLI: fixture.NewCLI(t, root), t: t, root: root, image: image}
		t.Cleanup(e.cleanup)
		return e
	}

	e := fresh()
	if r := e.Run("run", "--pull", "never", "--rm", image, "true"); r.Code != 125 || !strings.Contains(r.Stderr, "no such image") {
		t.Errorf("run --pull never of a missing image: %+v", r)
	}
	if r := e.Run("run", "--pull", "sometimes", "--rm", image, "true"); r.Code != 125 || !strings.Contains(r.Stderr, "invalid pull option") {
		t.Errorf("run --pull sometimes: %+v", r)
	}
	if n := len(e.ps(true)); n != 0 {
		t.Errorf("the refused runs left %d containers", n)
	}
	r := e.Run("run", "--rm", image, "echo", "hi")
	if r.Code != 0 || strings.TrimSpace(r.Stdout) != "hi" {
		t.Fatalf("run of a missing image: %+v", r)
	}
	if want := "Unable to find image '" + image + "' locally"; !strings.Contains(r.Stderr, want) {
		t.Errorf("run of a missing image says %q, want %q", r.Stderr, want)
	}
	// Now in the store: nothing said, nothing pulled.
	if r := e.Run("run", "--rm", image, "true"); r.Code != 0 || r.Stderr != "" {
		t.Errorf("run of a stored image: %+v", r)
	}
	// --pull always goes to the registry each time (the pull's progress says so).
	if r := e.Run("run", "--pull", "always", "--rm", image, "true"); r.Code != 0 || strings.Contains(r.Stderr, "Unable to find") || !strings.Contains(r.Stderr, image+": resolving") {
		t.Errorf("run --pull always: %+v", r)
	}

	c := fresh()
	r = c.Run("create", image, "true")
	if r.Code != 0 || len(strings.TrimSpace(r.Stdout)) != 64 || !strings.Contains(r.Stderr, "Unable to find image") {
		t.Errorf("create of a missing image: %+v", r)
	}
}
