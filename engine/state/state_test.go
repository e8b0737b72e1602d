package state

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestNameIsReservedOnce(t *testing.T) {
	root := t.TempDir()
	var wg sync.WaitGroup
	var mu sync.Mutex
	won, lost := 0, 0
	for i := 0; i < 16; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := Open(root) // a separate Store, as another process would have
			if err != nil {
				t.Error(err)
				return
			}
			err = s.Create(&Record{ID: NewID(), Name: "web", Status: Created, Created: time.Now()})
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				won++
			case errors.Is(err, ErrNameInUse):
				lost++
			default:
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if won != 1 || lost != 15 {
		t.Fatalf("won %d lost %d, want 1 and 15", won, lost)
	}
	s, _ := Open(root)
	recs, _ := s.List()
	if len(recs) != 1 {
		t.Fatalf("%d records, want 1 (a losing create must leave nothing)", len(recs))
	}
}

func TestCreateResolveUpdateDelete(t *testing.T) {
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	a := &Record{ID: "abc111" + NewID()[:58], Created: time.Now()}
	b := &Record{ID: "abc222" + NewID()[:58], Name: "named", Created: time.Now().Add(time.Second)}
	for _, r := range []*Record{a, b} {
		if err := s.Create(r); err != nil {
			t.Fatal(err)
		}
	}
	if a.Name == "" {
		t.Fatal("no generated name")
	}
	for ref, want := range map[string]string{a.ID: a.ID, "abc1": a.ID, "named": b.ID, "/named": b.ID, a.Name: a.ID} {
		if got, err := s.Resolve(ref); err != nil || got != want {
			t.Errorf("Resolve(%q) = %q, %v; want %q", ref, got, err, want)
		}
	}
	if _, err := s.Resolve("abc"); err == nil {
		t.Error("ambiguous prefix resolved")
	}
	if _, err := s.Resolve("nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Resolve(nope) = %v", err)
	}
	if err := s.Create(&Record{ID: NewID(), Name: "bad name!"}); err == nil {
		t.Error("invalid name accepted")
	}
	if _, err := s.Update(b.ID, func(r *Record) error { r.Status = Running; r.Pid = 42; return nil }); err != nil {
		t.Fatal(err)
	}
	got, _ := s.Get(b.ID)
	if got.Status != Running || got.Pid != 42 {
		t.Fatalf("after update: %+v", got)
	}
	if _, err := s.Update(b.ID, func(r *Record) error { r.Pid = 7; return errors.New("no") }); err == nil {
		t.Fatal("update error lost")
	}
	if got, _ := s.Get(b.ID); got.Pid != 42 {
		t.Fatal("failed update was written")
	}
	recs, _ := s.List()
	if len(recs) != 2 || recs[0].ID != b.ID {
		t.Fatalf("list order wrong: %d records", len(recs))
	}
	if err := s.Delete(b.ID, b.Name); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(s.namesDir(), "named")); !os.IsNotExist(err) {
		t.Fatal("name not released")
	}
	if err := s.Create(&Record{ID: NewID(), Name: "named"}); err != nil {
		t.Fatalf("name not reusable after delete: %v", err)
	}
}

// A name whose container directory is gone (a crash between reserving and creating) is
// taken over once stale.
func TestStaleNameTakenOver(t *testing.T) {
	s, _ := Open(t.TempDir())
	p := filepath.Join(s.namesDir(), "ghost")
	os.WriteFile(p, []byte("deadbeef"), 0o600)
	old := time.Now().Add(-time.Minute)
	os.Chtimes(p, old, old)
	if err := s.Create(&Record{ID: NewID(), Name: "ghost"}); err != nil {
		t.Fatalf("stale name not taken over: %v", err)
	}
}

// Discard takes the container out at once (no record, name free) and leaves its files in the
// trash until purge.
func TestDiscardThenPurge(t *testing.T) {
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	rec := &Record{ID: strings.Repeat("d", 64), Name: "web"}
	if err := s.Create(rec); err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(filepath.Join(s.Dir(rec.ID), "upper", "etc"), 0o755)
	purge, err := s.Discard(rec.ID, rec.Name)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Resolve("web"); !errors.Is(err, ErrNotFound) {
		t.Errorf("resolve after discard: %v", err)
	}
	if recs, _ := s.List(); len(recs) != 0 {
		t.Errorf("list after discard: %d records", len(recs))
	}
	if err := s.Create(&Record{ID: strings.Repeat("e", 64), Name: "web"}); err != nil {
		t.Errorf("the name is not free after discard: %v", err)
	}
	trash := filepath.Join(s.TrashDir(), rec.ID, "upper", "etc")
	if _, err := os.Stat(trash); err != nil {
		t.Fatalf("files not in the trash before purge: %v", err)
	}
	if err := purge(); err != nil {
		t.Fatal(err)
	}
	if ents, _ := os.ReadDir(s.TrashDir()); len(ents) != 0 {
		t.Errorf("trash after purge: %d entries", len(ents))
	}
}

// TestWriteRemovesExecRecords: any record write removes the exec fast path's record (what it
// says may have changed); one of a container that is not running removes the mark of an exec
// --privileged too (its processes are gone).
func TestWriteRemovesExecRecords(t *testing.T) {
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	rec := &Record{ID: NewID(), Name: "web", Status: Created, Created: time.Now()}
	if err := s.Create(rec); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		status         string
		keepPrivileged bool
	}{{Running, true}, {Exited, false}} {
		for _, p := range []string{s.ExecFastPath(rec.ID), s.ExecPrivilegedPath(rec.ID)} {
			if err := os.WriteFile(p, nil, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := s.Update(rec.ID, func(r *Record) error { r.Status = tc.status; return nil }); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(s.ExecFastPath(rec.ID)); !os.IsNotExist(err) {
			t.Errorf("%s: exec.fast is still there (%v)", tc.status, err)
		}
		if _, err := os.Stat(s.ExecPrivilegedPath(rec.ID)); (err == nil) != tc.keepPrivileged {
			t.Errorf("%s: exec.privileged there: %v, want %v", tc.status, err == nil, tc.keepPrivileged)
		}
	}
}

// A removed container's last record stays readable for a while (a waiter that resolved it
// before the removal reads its exit there), and goes once it is older than TombstoneLife.
func TestDiscardKeepsTombstone(t *testing.T) {
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	id := NewID()
	if err := s.Create(&Record{ID: id, Name: "gone", Status: Running, Created: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Tombstone(id); !errors.Is(err, ErrNotFound) {
		t.Fatalf("tombstone of a live container: %v", err)
	}
	s.Update(id, func(r *Record) error { r.Status, r.ExitCode = Exited, 7; return nil })
	if err := s.Delete(id, "gone"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(id); !errors.Is(err, ErrNotFound) {
		t.Fatalf("record after Delete: %v", err)
	}
	last, err := s.Tombstone(id)
	if err != nil || last.Status != Exited || last.ExitCode != 7 {
		t.Fatalf("tombstone = %+v, %v; want exited 7", last, err)
	}
	s.PruneTombstones(time.Now().Add(time.Second))
	if _, err := s.Tombstone(id); !errors.Is(err, ErrNotFound) {
		t.Fatalf("tombstone after its life: %v", err)
	}
}

// A removal prunes tombstones older than TombstoneLife at most every PruneEvery: one within
// PruneEvery of the last prune leaves them, the next one after it deletes them.
func TestBuryPrunesEveryPruneEvery(t *testing.T) {
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	remove := func() string {
		t.Helper()
		id := NewID()
		if err := s.Create(&Record{ID: id, Status: Exited, Created: time.Now()}); err != nil {
			t.Fatal(err)
		}
		if err := s.Delete(id, ""); err != nil {
			t.Fatal(err)
		}
		return id
	}
	remove() // the first prune: marks now
	old := filepath.Join(s.exitsDir(), fmt.Sprintf("%064x.%d", 1, time.Now().Add(-2*TombstoneLife).UnixNano()))
	if err := os.WriteFile(old, []byte("{}"), 0o600); err != nil {
		t.Fatal(err)
	}
	id := remove()
	if _, err := os.Stat(old); err != nil {
		t.Fatalf("a removal within PruneEvery of the last prune pruned: %v", err)
	}
	mark := filepath.Join(s.exitsDir(), ".pruned")
	then := time.Now().Add(-2 * PruneEvery)
	if err := os.Chtimes(mark, then, then); err != nil {
		t.Fatal(err)
	}
	remove()
	if _, err := os.Stat(old); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the old tombstone is still there after a due prune: %v", err)
	}
	if _, err := s.Tombstone(id); err != nil {
		t.Errorf("a fresh tombstone went with the prune: %v", err)
	}
	if fi, err := os.Stat(mark); err != nil || time.Since(fi.ModTime()) > PruneEvery {
		t.Errorf("the due prune did not mark its time: %v", err)
	}
}
