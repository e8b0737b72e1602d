// Package runtime_test runs real containers through engine/runtime, in-process: the test
// binary is the init (TestMain dispatches the re-exec entry, as glassbox's main does).
package runtime_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/glassbox/glassbox/engine/runtime"
	"github.com/glassbox/glassbox/test/fixture"
)

func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == runtime.InitEntry {
		os.Exit(runtime.InitMain(os.Args[2:]))
	}
	if len(os.Args) > 1 && os.Args[1] == runtime.UsernsEntry {
		os.Exit(runtime.UsernsMain(os.Args[2:]))
	}
	if v := os.Getenv(helperCreateEnv); v != "" {
		os.Exit(helperCreate(v))
	}
	os.Exit(m.Run())
}

var (
	rootfsOnce sync.Once
	rootfsDir  string
	rootfsErr  error
)

// sharedRootfs is one busybox rootfs for every test that only reads it (containers get a
// read-only root by default); tests that change their rootfs make their own.
func sharedRootfs(t *testing.T) string {
	rootfsOnce.Do(func() {
		rootfsDir, rootfsErr = os.MkdirTemp("", "glassbox-runtime-rootfs-")
		if rootfsErr == nil {
			rootfsErr = fixture.BusyboxRootfs(rootfsDir)
		}
	})
	if rootfsErr != nil {
		t.Fatalf("busybox rootfs: %v", rootfsErr)
	}
	return rootfsDir
}

// bundle writes a bundle whose config is runtime.Example() running args with no terminal,
// edited by edit; rootfs "" means the shared busybox rootfs.
func bundle(t *testing.T, rootfs string, edit func(*specs.Spec), args ...string) string {
	t.Helper()
	if rootfs == "" {
		rootfs = sharedRootfs(t)
	}
	dir := t.TempDir()
	s := runtime.Example()
	s.Root.Path = rootfs
	s.Process.Terminal = false
	s.Process.Args = args
	s.Linux.CgroupsPath = "rt-" + strings.ReplaceAll(t.Name(), "/", "-")
	if edit != nil {
		edit(s)
	}
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "config.json"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func newRuntime(t *testing.T) *runtime.Runtime {
	t.Helper()
	fixture.NeedRoot(t)
	r, err := runtime.New(runtime.Options{StateDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// result is a finished container's output and exit status.
type result struct {
	out    string
	status syscall.WaitStatus
}

// create makes a container with its stdout and stderr going to one pipe, and deletes it
// (killing what is left) when the test ends.
func create(t *testing.T, r *runtime.Runtime, id, bundleDir string) (*runtime.Container, func() result) {
	t.Helper()
	return createWith(t, r, id, runtime.CreateOptions{Bundle: bundleDir})
}

func createWith(t *testing.T, r *runtime.Runtime, id string, opts runtime.CreateOptions) (*runtime.Container, func() result) {
	t.Helper()
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	opts.IO = runtime.IO{Stdout: pw, Stderr: pw}
	c, err := r.Create(context.Background(), id, opts)
	pw.Close()
	if err != nil {
		pr.Close()
		t.Fatalf("create: %v", err)
	}
	t.Cleanup(func() {
		if err := r.Delete(id, true); err != nil && !errors.Is(err, runtime.ErrNoSuchContainer) {
			t.Errorf("delete: %v", err)
		}
	})
	var out bytes.Buffer
	copied := make(chan struct{})
	go func() {
		io.Copy(&out, pr)
		pr.Close()
		close(copied)
	}()
	var once sync.Once
	var res result
	wait := func() result {
		once.Do(func() {
			// A container that does not end fails the test rather than hanging it.
			timer := time.AfterFunc(30*time.Second, func() {
				t.Errorf("container %s still running after 30s: killed", id)
				c.Process.Kill()
			})
			defer timer.Stop()
			state, err := c.Process.Wait()
			if err != nil {
				t.Fatalf("wait: %v", err)
			}
			select {
			case <-copied:
			case <-time.After(10 * time.Second):
				t.Error("output not closed 10s after the init exited (a descriptor leaked to a process left behind?)")
			}
			res = result{out: out.String(), status: state.Sys().(syscall.WaitStatus)}
		})
		return res
	}
	t.Cleanup(func() {
		c.Process.Kill()
		wait()
	})
	return c, wait
}

// run creates, starts and waits for a container; it returns its output and status.
func run(t *testing.T, r *runtime.Runtime, bundleDir string) result {
	t.Helper()
	id := "t" + strings.ReplaceAll(strings.ReplaceAll(t.Name(), "/", "-"), "_", "-")
	_, wait := create(t, r, id, bundleDir)
	if err := r.Start(id); err != nil {
		t.Fatalf("start: %v", err)
	}
	return wait()
}

func fixtureRootfs(dir string) error { return fixture.BusyboxRootfs(dir) }

func errorsIs(err, target error) bool { return errors.Is(err, target) }

func fixtureNeedRoot(t *testing.T) { fixture.NeedRoot(t) }
