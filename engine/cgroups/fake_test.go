package cgroups

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/glassbox/glassbox/engine/trace"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// fakeRmdir removes a fake cgroup directory with its files, failing with EBUSY while it has
// child cgroups, as cgroupfs does.
func fakeRmdir(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if e.IsDir() {
			return &os.PathError{Op: "rmdir", Path: dir, Err: unix.EBUSY}
		}
	}
	for _, e := range entries {
		os.Remove(filepath.Join(dir, e.Name()))
	}
	return os.Remove(dir)
}

// fakeTree copies the recorded tree testdata/<name> into a temporary root and returns a
// Config on it and a fake kernel: its mkdir fills a new cgroup with the recorded child's
// files, as cgroupfs does, and on cgroup2 gives it the controllers its parent enables.
func fakeTree(t *testing.T, name, path string) (Config, func(string) error) {
	t.Helper()
	src := filepath.Join("testdata", name)
	root := t.TempDir()
	if err := os.CopyFS(root, os.DirFS(filepath.Join(src, "root"))); err != nil {
		t.Fatal(err)
	}
	mkdir := func(dir string) error {
		if err := os.Mkdir(dir, 0o755); err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, dir)
		tmpl := filepath.Join(src, "template", strings.Split(rel, "/")[0])
		if _, err := os.Stat(tmpl); err != nil {
			tmpl = filepath.Join(src, "template", unifiedKey)
		}
		if err := os.CopyFS(dir, os.DirFS(tmpl)); err != nil {
			return err
		}
		// cpuset_css_online: a parent with cgroup.clone_children set gives a new child its
		// cpuset.cpus and cpuset.mems.
		if c, err := os.ReadFile(filepath.Join(filepath.Dir(dir), "cgroup.clone_children")); err == nil && strings.TrimSpace(string(c)) == "1" {
			for _, f := range []string{"cpuset.cpus", "cpuset.mems"} {
				if v, err := os.ReadFile(filepath.Join(filepath.Dir(dir), f)); err == nil {
					if _, err := os.Stat(filepath.Join(dir, f)); err == nil {
						os.WriteFile(filepath.Join(dir, f), v, 0o644)
					}
				}
			}
		}
		if sub, err := os.ReadFile(filepath.Join(filepath.Dir(dir), "cgroup.subtree_control")); err == nil {
			var ctls []string
			for _, f := range strings.Fields(string(sub)) {
				ctls = append(ctls, strings.TrimPrefix(f, "+"))
			}
			if strings.Contains(string(sub), "+") {
				os.WriteFile(filepath.Join(filepath.Dir(dir), "cgroup.subtree_control"), []byte(strings.Join(ctls, " ")+"\n"), 0o644)
			}
			if _, err := os.Stat(filepath.Join(dir, "cgroup.controllers")); err == nil {
				os.WriteFile(filepath.Join(dir, "cgroup.controllers"), []byte(strings.Join(ctls, " ")+"\n"), 0o644)
			}
		}
		return nil
	}
	cfg := Config{Root: root, Path: path, MountInfo: filepath.Join(src, "mountinfo"),
		ProcCgroup: filepath.Join(src, "cgroup"), Trace: trace.New(time.Now())}
	// glassbox's own cgroup exists in the machine the tree was recorded on.
	own, err := ownCgroups(cfg.ProcCgroup)
	if err != nil {
		t.Fatal(err)
	}
	m, err := readMounts(cfg.MountInfo, root)
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range m.hierarchies {
		dir := h.mountPoint
		for _, part := range strings.Split(strings.Trim(own[h.key], "/"), "/") {
			if part == "" {
				continue
			}
			dir = filepath.Join(dir, part)
			if _, err := os.Stat(dir); err != nil {
				if err := mkdir(dir); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	return cfg, mkdir
}

// writes lists the trace's cgroup steps with root cut from the paths.
func writes(rec *trace.Recorder, root string) []string {
	var out []string
	for _, s := range rec.Steps() {
		if s.Step == "cgroup" {
			out = append(out, strings.ReplaceAll(s.Detail, root, ""))
		}
	}
	return out
}

// snapshot lists every file under root with its contents, to prove nothing changed.
func snapshot(t *testing.T, root string) map[string]string {
	t.Helper()
	files := map[string]string{}
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			t.Fatal(err)
		}
		if d.IsDir() {
			files[p] = "<dir>"
			return nil
		}
		b, _ := os.ReadFile(p)
		files[p] = string(b)
		return nil
	})
	return files
}

func writeTemp(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// createdFake is a container cgroup c1 made by Create on the recorded tree, with res (nil:
// none).
func createdFake(t *testing.T, tree string, res *specs.LinuxResources) (*Cgroup, Config) {
	t.Helper()
	cfg, mkdir := fakeTree(t, tree, "c1")
	cfg.Resources = res
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	c.mkdir, c.rmdir = mkdir, fakeRmdir
	if err := c.Create(); err != nil {
		t.Fatal(err)
	}
	return c, cfg
}
