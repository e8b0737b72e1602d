// Package lifecycle tests glassbox's container verbs end to end, as root: the real binary,
// real shims, real containers from images built at test time and served on 127.0.0.1.
package lifecycle

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/glassbox/glassbox/engine"
	"github.com/glassbox/glassbox/test/fixture"
)

// env is one test's glassbox root with busybox pulled into it.
type env struct {
	*fixture.CLI
	t     *testing.T
	root  string
	image string
}

func newEnv(t *testing.T) *env {
	t.Helper()
	fixture.NeedRoot(t)
	fixture.NeedBinary(t, "runc")
	root := t.TempDir()
	e := &env{CLI: fixture.NewCLI(t, root), t: t, root: root, image: fixture.SharedBusybox(t)}
	if r := e.Run("pull", "-q", e.image); r.Code != 0 {
		if r = e.Run("pull", e.image); r.Code != 0 {
			t.Fatalf("pull: %+v", r)
		}
	}
	t.Cleanup(e.cleanup)
	return e
}

// cleanup force-removes every container the test left, then checks nothing stays mounted.
func (e *env) cleanup() {
	e.RemoveContainers()
	fixture.CheckUnmounted(e.t, e.root)
}

func (e *env) inspect(ref string) (d engine.ContainerDetail) {
	e.t.Helper()
	e.Inspect(ref, &d)
	return d
}

func (e *env) ps(all bool) []engine.Container {
	e.t.Helper()
	args := []string{"--format", "json", "ps"}
	if all {
		args = append(args, "-a")
	}
	var cs []engine.Container
	e.JSON(&cs, args...)
	return cs
}

// waitFor polls cond (no timing is asserted: the deadline only bounds a hang).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("gave up waiting for %s", what)
}

func name(t *testing.T) string {
	return strings.ToLower(strings.NewReplacer("/", "-", " ", "-").Replace(t.Name())) + fmt.Sprint(os.Getpid())
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
