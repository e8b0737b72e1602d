package topdir

import (
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

func flags(t *testing.T, dir string) (uint32, error) {
	t.Helper()
	f, err := os.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	return unix.IoctlGetUint32(int(f.Fd()), unix.FS_IOC_GETFLAGS)
}

// On a file system with inode flags (ext4 under the test's temporary directory here), Mark
// sets FS_TOPDIR_FL and keeps the flags there were; on one without (tmpfs), it does nothing.
func TestMark(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "containers")
	if err := os.Mkdir(dir, 0o711); err != nil {
		t.Fatal(err)
	}
	before, err := flags(t, dir)
	if err != nil {
		// No inode flags here: Mark must say nothing and change nothing.
		if err := Mark(dir); err != nil {
			t.Fatalf("Mark on a file system without flags: %v", err)
		}
		t.Logf("no inode flags under %s (%v): Mark left it alone", dir, err)
		return
	}
	if before&fsTopdirFL != 0 {
		t.Fatalf("a new directory already has FS_TOPDIR_FL (flags %#x)", before)
	}
	for i := 0; i < 2; i++ { // the second time finds the flag set
		if err := Mark(dir); err != nil {
			t.Fatal(err)
		}
	}
	after, err := flags(t, dir)
	if err != nil {
		t.Fatal(err)
	}
	if after != before|fsTopdirFL {
		t.Errorf("flags %#x after Mark, want %#x", after, before|fsTopdirFL)
	}
}

func TestMarkTmpfs(t *testing.T) {
	if err := Mark("/dev/shm"); err != nil {
		t.Errorf("Mark(/dev/shm): %v", err)
	}
	if err := Mark(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Error("Mark of a missing directory succeeded")
	}
}
