package lifecycle

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/glassbox/glassbox/engine/cgroups"
	"github.com/glassbox/glassbox/engine/state"
)

// makeCgroups makes container id's cgroups where glassbox makes them for this process (the
// glassbox parent in each of its hierarchies: gc's CLI runs in the same cgroups), parents
// already there only, and removes them when the test ends.
func makeCgroups(t *testing.T, id string) []string {
	t.Helper()
	cg, err := cgroups.New(cgroups.Config{Path: id})
	if err != nil {
		t.Fatal(err)
	}
	var made []string
	for _, p := range cg.Paths() {
		if !exists(filepath.Dir(p)) {
			continue // no glassbox parent here: the test makes none
		}
		if err := os.Mkdir(p, 0o755); err != nil {
			t.Fatal(err)
		}
		made = append(made, p)
	}
	t.Cleanup(func() {
		for _, p := range made {
			syscall.Rmdir(p)
		}
	})
	if len(made) == 0 {
		t.Fatal("no glassbox cgroup parent to make a cgroup in")
	}
	return made
}

// gc removes the empty cgroups a removed container of its root left (an older glassbox made
// them before any state named them), and nothing else: not the empty cgroup of a container
// its root never had (another root's, or an earlier session's).
func TestGCRemovesEmptyCgroupsOfRemovedContainers(t *testing.T) {
	e := newEnv(t)
	id := e.Must("create", e.image, "true")
	e.Must("rm", id)
	ours := makeCgroups(t, id)
	foreign := makeCgroups(t, state.NewID())
	out := e.Must("gc")
	for _, p := range ours {
		if exists(p) {
			t.Errorf("gc left %s", p)
		}
	}
	if !strings.Contains(out, id[:12]) {
		t.Errorf("gc did not say it removed the cgroups of %s: %q", id[:12], out)
	}
	for _, p := range foreign {
		if !exists(p) {
			t.Errorf("gc removed %s, a cgroup of a container its root never had", p)
		}
	}
}
