// Package oci tests `glassbox oci`, runc's command-line contract, end to end as root: the real
// binary (through a link named glassbox-oci, as podman would call it) on busybox bundles
// built at test time, and podman itself pointed at it.
package oci

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/glassbox/glassbox/test/fixture"
)

// ociEnv is one test's runtime: the glassbox-oci link and a private --root. Its commands'
// stdio are files, not pipes: a container created by one inherits them and may hold them open
// long after.
type ociEnv struct {
	*fixture.CLI
	t    *testing.T
	bin  string // a link named glassbox-oci to the glassbox binary
	root string
}

func newEnv(t *testing.T) *ociEnv {
	t.Helper()
	fixture.NeedRoot(t)
	dir := t.TempDir()
	bin := filepath.Join(dir, "glassbox-oci")
	if err := os.Symlink(fixture.Glassbox(t), bin); err != nil {
		t.Fatal(err)
	}
	root := filepath.Join(dir, "state")
	return &ociEnv{CLI: &fixture.CLI{T: t, Bin: bin, Root: root, Files: true}, t: t, bin: bin, root: root}
}

func (e *ociEnv) state(id string) specs.State {
	e.t.Helper()
	var st specs.State
	out := e.Must("state", id)
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		e.t.Fatalf("state %s: %v: %q", id, err, out)
	}
	return st
}

// waitStatus polls state until the container exists and reaches status.
func (e *ociEnv) waitStatus(id string, status specs.ContainerState) specs.State {
	e.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var st specs.State
		r := e.Run("state", id)
		if r.Code == 0 {
			if err := json.Unmarshal([]byte(r.Stdout), &st); err != nil {
				e.t.Fatalf("state %s: %v: %q", id, err, r.Stdout)
			}
			if st.Status == status {
				return st
			}
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("container %s is %q (%s), never became %s", id, st.Status, strings.TrimSpace(r.Stderr), status)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

var (
	rootfsOnce sync.Once
	rootfsDir  string
	rootfsErr  error
)

// rootfs is one busybox root filesystem for every bundle of the test binary (read-only in
// their configs): writing one takes a while.
func rootfs(t *testing.T) string {
	rootfsOnce.Do(func() {
		var parent string
		if parent, rootfsErr = os.MkdirTemp("", "glassbox-oci-rootfs-"); rootfsErr != nil {
			return
		}
		rootfsDir = filepath.Join(parent, "rootfs")
		if rootfsErr = os.Mkdir(rootfsDir, 0o755); rootfsErr == nil {
			rootfsErr = fixture.BusyboxRootfs(rootfsDir)
		}
	})
	if rootfsErr != nil {
		t.Fatalf("busybox rootfs: %v", rootfsErr)
	}
	return rootfsDir
}

func TestMain(m *testing.M) {
	code := m.Run()
	if rootfsDir != "" {
		os.RemoveAll(filepath.Dir(rootfsDir))
	}
	os.Exit(code)
}

// containerID is unique on this machine: test name and pid.
func containerID(t *testing.T) string {
	name := strings.NewReplacer("/", "-", " ", "-").Replace(t.Name())
	return fmt.Sprintf("%s-%d", strings.ToLower(name), os.Getpid())
}

// bundle writes a bundle of the shared busybox rootfs whose config is `glassbox oci spec`'s
// with args and no terminal, edited by edit.
func (e *ociEnv) bundle(edit func(*specs.Spec), args ...string) string {
	e.t.Helper()
	dir := e.t.TempDir()
	e.Must("spec", "--bundle", dir)
	path := filepath.Join(dir, "config.json")
	data, err := os.ReadFile(path)
	if err != nil {
		e.t.Fatal(err)
	}
	var s specs.Spec
	if err := json.Unmarshal(data, &s); err != nil {
		e.t.Fatal(err)
	}
	s.Process.Terminal = false
	s.Process.Args = args
	s.Root.Path = rootfs(e.t)
	if edit != nil {
		edit(&s)
	}
	data, _ = json.Marshal(&s)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		e.t.Fatal(err)
	}
	return dir
}

// create creates a container that sleeps, deleted (forcibly) when the test ends.
func (e *ociEnv) create(id string, bundle string, extra ...string) {
	e.t.Helper()
	e.t.Cleanup(func() { e.Run("delete", "--force", id) })
	e.Must(append(append([]string{"create", "--bundle", bundle}, extra...), id)...)
}

func wantCode(t *testing.T, what string, r fixture.Result, code int, stderrHas string) {
	t.Helper()
	if r.Code != code || !strings.Contains(r.Stderr, stderrHas) {
		t.Errorf("%s: exit %d, stderr %q; want exit %d and stderr containing %q", what, r.Code, r.Stderr, code, stderrHas)
	}
}
