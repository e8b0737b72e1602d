package atomicfile

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/glassbox/glassbox/test/fixture"
)

// names lists dir's entries.
func names(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	return out
}

func TestWriteFile(t *testing.T) {
	umask := unix.Umask(0)
	unix.Umask(umask)
	for _, d := range []Durability{Atomic, Synced, Durable} {
		t.Run(d.String(), func(t *testing.T) {
			dir := t.TempDir()
			p := filepath.Join(dir, "state.json")
			if err := WriteFile(p, []byte("one"), 0o644, d); err != nil {
				t.Fatal(err)
			}
			if err := WriteFile(p, []byte("two"), 0o640, d); err != nil {
				t.Fatal(err)
			}
			b, err := os.ReadFile(p)
			if err != nil || string(b) != "two" {
				t.Errorf("content = %q, %v; want two", b, err)
			}
			st, err := os.Stat(p)
			if err != nil {
				t.Fatal(err)
			}
			if want := os.FileMode(0o640) &^ os.FileMode(umask); st.Mode().Perm() != want {
				t.Errorf("mode = %v, want %v (0640 less umask %03o)", st.Mode().Perm(), want, umask)
			}
			if got := names(t, dir); len(got) != 1 || got[0] != "state.json" {
				t.Errorf("directory holds %v, want only state.json", got)
			}
		})
	}
}

// TestWriteFileReplacesTheInode: a replacement (an exchange, then the old inode unlinked)
// leaves the name on the new inode, the old one unlinked but whole for a reader that has it
// open, and a hard link to the old one (a tombstone in ROOT/exits) with the old content.
func TestWriteFileReplacesTheInode(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "state.json")
	if err := WriteFile(p, []byte("old"), 0o600, Atomic); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "tombstone")
	if err := os.Link(p, link); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var before unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &before); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(p, []byte("new"), 0o600, Atomic); err != nil {
		t.Fatal(err)
	}
	var after, old unix.Stat_t
	if err := unix.Stat(p, &after); err != nil {
		t.Fatal(err)
	}
	if err := unix.Fstat(int(f.Fd()), &old); err != nil {
		t.Fatal(err)
	}
	if after.Ino == before.Ino {
		t.Errorf("%s kept inode %d", p, after.Ino)
	}
	if old.Nlink != 1 {
		t.Errorf("the old inode has %d links, want 1 (the tombstone's)", old.Nlink)
	}
	for path, want := range map[string]string{p: "new", link: "old"} {
		if b, err := os.ReadFile(path); err != nil || string(b) != want {
			t.Errorf("%s = %q, %v; want %q", path, b, err, want)
		}
	}
	if b, err := io.ReadAll(f); err != nil || string(b) != "old" {
		t.Errorf("the open old file reads %q, %v; want old", b, err)
	}
	if got := names(t, dir); len(got) != 2 {
		t.Errorf("directory holds %v, want state.json and tombstone", got)
	}
}

// TestWriteFileFailureLeavesNothing: each way a write fails leaves the target as it was and no
// temporary file.
func TestWriteFileFailureLeavesNothing(t *testing.T) {
	cases := []struct {
		name  string
		setup func(t *testing.T, dir string) string // returns the path written
		d     Durability
		msg   string
	}{
		{"rename over a directory", func(t *testing.T, dir string) string {
			p := filepath.Join(dir, "target")
			if err := os.MkdirAll(filepath.Join(p, "inside"), 0o755); err != nil {
				t.Fatal(err)
			}
			return p
		}, Synced, "rename"},
		{"missing directory", func(t *testing.T, dir string) string {
			return filepath.Join(dir, "no-such-dir", "f")
		}, Atomic, "no such file"},
		{"unknown durability", func(t *testing.T, dir string) string {
			p := filepath.Join(dir, "f")
			os.WriteFile(p, []byte("old"), 0o600)
			return p
		}, Durable + 1, "unknown durability"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			p := tc.setup(t, dir)
			before := names(t, dir)
			err := WriteFile(p, []byte("new"), 0o600, tc.d)
			if err == nil || !strings.Contains(err.Error(), tc.msg) || !strings.Contains(err.Error(), p) {
				t.Errorf("err = %v; want one naming %s and %q", err, p, tc.msg)
			}
			if after := names(t, dir); strings.Join(after, " ") != strings.Join(before, " ") {
				t.Errorf("directory went from %v to %v", before, after)
			}
		})
	}
}

// TestWriteFileFullDisk: a write that fails for want of space (a 64 KiB tmpfs) leaves the old
// content and no temporary file.
func TestWriteFileFullDisk(t *testing.T) {
	fixture.NeedRoot(t) // to mount a tmpfs; the other failures run anywhere
	dir := t.TempDir()
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, "size=64k"); err != nil {
		t.Fatalf("mount tmpfs: %v", err)
	}
	defer unix.Unmount(dir, unix.MNT_DETACH)
	p := filepath.Join(dir, "f")
	if err := WriteFile(p, []byte("old"), 0o600, Synced); err != nil {
		t.Fatal(err)
	}
	err := WriteFile(p, bytes.Repeat([]byte("x"), 1<<20), 0o600, Synced)
	if err == nil || !strings.Contains(err.Error(), "no space") {
		t.Errorf("err = %v; want ENOSPC", err)
	}
	if b, _ := os.ReadFile(p); string(b) != "old" {
		t.Errorf("content = %q after a failed write, want old", b)
	}
	if got := names(t, dir); strings.Join(got, " ") != "f" {
		t.Errorf("directory holds %v, want only f", got)
	}
}

// TestWriteFileReadersSeeWholeContents: while two writers replace a file with two different
// contents, a reader only ever sees one or the other, whole; no temporary file stays.
func TestWriteFileReadersSeeWholeContents(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "f")
	a, b := bytes.Repeat([]byte("a"), 256<<10), bytes.Repeat([]byte("b"), 256<<10)
	if err := WriteFile(p, a, 0o600, Atomic); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for _, data := range [][]byte{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				if err := WriteFile(p, data, 0o600, Atomic); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	for range 300 {
		got, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, a) && !bytes.Equal(got, b) {
			t.Fatalf("a reader saw %d bytes mixing both contents (or torn)", len(got))
		}
	}
	close(stop)
	wg.Wait()
	if got := names(t, dir); strings.Join(got, " ") != "f" {
		t.Errorf("directory holds %v, want only f", got)
	}
}
