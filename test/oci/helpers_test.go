// Package oci tests `glassbox oci`, runc's command-line contract, end to end as root: the real
// binary (through a link named glassbox-oci, as podman would call it) on busybox bundles
// built at test time, and podman itself pointed at it.
package oci

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/glassbox/glassbox/test/fixture"
)

// ociEnv is one test's runtime: the glassbox-oci link and a private --root.
type ociEnv struct {
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
	return &ociEnv{t: t, bin: bin, root: filepath.Join(dir, "state")}
}

type result struct {
	code           int
	stdout, stderr string
}

// run runs `glassbox-oci --root ROOT ARGS...` and returns what it did. Its stdio are files,
// not pipes: a container created by it inherits them and may hold them open long after.
func (e *ociEnv) run(args ...string) result {
	e.t.Helper()
	return e.runIn("", args...)
}

func (e *ociEnv) runIn(stdin string, args ...string) result {
	e.t.Helper()
	dir := e.t.TempDir()
	out, _ := os.Create(filepath.Join(dir, "stdout"))
	errf, _ := os.Create(filepath.Join(dir, "stderr"))
	defer out.Close()
	defer errf.Close()
	cmd := exec.Command(e.bin, append([]string{"--root", e.root}, args...)...)
	cmd.Stdout, cmd.Stderr = out, errf
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	err := cmd.Run()
	r := result{}
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			e.t.Fatalf("glassbox-oci %v: %v", args, err)
		}
		r.code = ee.ExitCode()
	}
	b, _ := os.ReadFile(out.Name())
	r.stdout = string(b)
	b, _ = os.ReadFile(errf.Name())
	r.stderr = string(b)
	return r
}

// must runs args and fails the test unless it exits 0.
func (e *ociEnv) must(args ...string) string {
	e.t.Helper()
	r := e.run(args...)
	if r.code != 0 {
		e.t.Fatalf("glassbox-oci %s: exit %d: %s%s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r.stdout
}

func (e *ociEnv) state(id string) specs.State {
	e.t.Helper()
	var st specs.State
	out := e.must("state", id)
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
		r := e.run("state", id)
		if r.code == 0 {
			if err := json.Unmarshal([]byte(r.stdout), &st); err != nil {
				e.t.Fatalf("state %s: %v: %q", id, err, r.stdout)
			}
			if st.Status == status {
				return st
			}
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("container %s is %q (%s), never became %s", id, st.Status, strings.TrimSpace(r.stderr), status)
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
	e.must("spec", "--bundle", dir)
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
	e.t.Cleanup(func() { e.run("delete", "--force", id) })
	e.must(append(append([]string{"create", "--bundle", bundle}, extra...), id)...)
}

func wantCode(t *testing.T, what string, r result, code int, stderrHas string) {
	t.Helper()
	if r.code != code || !strings.Contains(r.stderr, stderrHas) {
		t.Errorf("%s: exit %d, stderr %q; want exit %d and stderr containing %q", what, r.code, r.stderr, code, stderrHas)
	}
}
