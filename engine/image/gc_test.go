package image

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// GC removes what interrupted work left in the store's temporary directory (a download, a
// mount-point layer cut off half-way) once it is an hour old, and leaves younger work alone.
func TestGCCleansOldTemporaries(t *testing.T) {
	s, err := Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	tmp := filepath.Join(s.dir, "tmp")
	old, fresh := filepath.Join(tmp, "init-1"), filepath.Join(tmp, "blob-2")
	if err := os.MkdirAll(filepath.Join(old, "layer", "proc"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(fresh, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	past := time.Now().Add(-2 * time.Hour)
	if err := os.Chtimes(old, past, past); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GC(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(old); !os.IsNotExist(err) {
		t.Errorf("an old temporary directory is still there: %v", err)
	}
	if _, err := os.Stat(fresh); err != nil {
		t.Errorf("a fresh temporary file went: %v", err)
	}
}
