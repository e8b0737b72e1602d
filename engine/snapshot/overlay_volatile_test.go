package snapshot

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/glassbox/glassbox/test/fixture"
)

// A volatile overlay works as an ordinary one (writes land in the upper directory) and the
// kernel shows the option on the mount.
func TestMountOverlayVolatile(t *testing.T) {
	fixture.NeedRoot(t)
	lowers := makeLayers(t, func(d string) error { return write(filepath.Join(d, "etc", "os"), "base") })
	d := t.TempDir()
	upper, work, merged := filepath.Join(d, "upper"), filepath.Join(d, "work"), filepath.Join(d, "merged")
	for _, x := range []string{upper, work, merged} {
		os.Mkdir(x, 0o755)
	}
	m, err := MountOverlayVolatile(lowers, upper, work, merged)
	if err != nil {
		t.Fatal(err)
	}
	defer Unmount(merged)
	if err := os.WriteFile(filepath.Join(merged, "etc", "new"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(upper, "etc", "new")); err != nil || string(b) != "x" {
		t.Errorf("upper etc/new = %q, %v", b, err)
	}
	if b, err := os.ReadFile(filepath.Join(merged, "etc", "os")); err != nil || string(b) != "base" {
		t.Errorf("merged etc/os = %q, %v", b, err)
	}
	info, _ := os.ReadFile("/proc/self/mountinfo")
	var line string
	for _, l := range strings.Split(string(info), "\n") {
		if f := strings.Fields(l); len(f) > 4 && f[4] == merged {
			line = l
		}
	}
	if line == "" {
		t.Fatalf("%s is not in mountinfo", merged)
	}
	if m.Method == "fsconfig lowerdir+ volatile" && !strings.Contains(line, "volatile") {
		t.Errorf("mounted with %s but mountinfo has no volatile: %s", m.Method, line)
	}
	if err := Unmount(merged); err != nil {
		t.Fatal(err)
	}
}

// After a volatile overlay's umount the kernel refuses its upper and work directories until
// ClearVolatile; then they mount again, volatile or not, with the upper's files.
func TestClearVolatileRemount(t *testing.T) {
	fixture.NeedRoot(t)
	lowers := makeLayers(t, func(d string) error { return write(filepath.Join(d, "etc", "os"), "base") })
	d := t.TempDir()
	upper, work, merged := filepath.Join(d, "upper"), filepath.Join(d, "work"), filepath.Join(d, "merged")
	for _, x := range []string{upper, work, merged} {
		os.Mkdir(x, 0o755)
	}
	m, err := MountOverlayVolatile(lowers, upper, work, merged)
	if err != nil {
		t.Fatal(err)
	}
	if m.Method != "fsconfig lowerdir+ volatile" {
		Unmount(merged)
		fixture.Need(t, false, "a volatile overlay (mounted with "+m.Method+")")
	}
	if err := os.WriteFile(filepath.Join(merged, "kept"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := Unmount(merged); err != nil {
		t.Fatal(err)
	}
	if _, err := MountOverlayVolatile(lowers, upper, work, merged); err == nil {
		Unmount(merged)
		t.Log("this kernel mounts a used volatile upper again without help")
	}
	if err := ClearVolatile(upper, work); err != nil {
		t.Fatal(err)
	}
	for _, volatile := range []bool{true, false} {
		mount := MountOverlay
		if volatile {
			mount = MountOverlayVolatile
		}
		if _, err := mount(lowers, upper, work, merged); err != nil {
			t.Fatalf("mount again (volatile %v) after ClearVolatile: %v", volatile, err)
		}
		if b, err := os.ReadFile(filepath.Join(merged, "kept")); err != nil || string(b) != "x" {
			t.Errorf("kept = %q, %v", b, err)
		}
		if err := Unmount(merged); err != nil {
			t.Fatal(err)
		}
		if err := ClearVolatile(upper, work); err != nil {
			t.Fatal(err)
		}
	}
}
