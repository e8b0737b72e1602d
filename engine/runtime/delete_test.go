package runtime

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// A create cut off leaves a state directory with no state, or a state with no init naming
// cgroups that were never made: Delete undoes both, where it used to find "no container".
func TestDeleteUndoesCutOffCreate(t *testing.T) {
	r, err := New(Options{StateDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	bare := strings.Repeat("a", 64)
	if err := os.Mkdir(r.dir(bare), 0o700); err != nil {
		t.Fatal(err)
	}
	early := strings.Repeat("b", 64)
	if err := os.Mkdir(r.dir(early), 0o700); err != nil {
		t.Fatal(err)
	}
	never := filepath.Join(t.TempDir(), "never-made")
	if err := r.save(&record{ID: early, Created: time.Now(), CgroupPaths: map[string]string{"pids": never}}); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{bare, early} {
		if !r.Exists(id) {
			t.Fatalf("Exists(%s) = false before Delete", id[:1])
		}
		if err := r.Delete(id, true); err != nil {
			t.Errorf("Delete of a create cut off (%s): %v", id[:1], err)
		}
		if r.Exists(id) {
			t.Errorf("Delete left the state directory of %s", id[:1])
		}
	}
	if r.Exists("../x") {
		t.Error("Exists accepted an ID that names a path outside the state directory")
	}
}
