package exec

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/glassbox/glassbox/engine"
	"github.com/glassbox/glassbox/test/fixture"
)

// The container tests run containers from a busybox image through the real binary
// (`glassbox run -d`), then exec into them. One root and one pull serve the package; each
// test runs its own container, named after it.

var (
	rootOnce sync.Once
	rootDir  string
	rootErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if rootDir != "" {
		gbRoot := func(args ...string) *exec.Cmd {
			return exec.Command(glassboxBin, append([]string{"--root", rootDir}, args...)...)
		}
		if out, err := gbRoot("ps", "-a", "-q", "--no-trunc").Output(); err == nil {
			for _, id := range strings.Fields(string(out)) {
				gbRoot("rm", "-f", id).Run()
			}
		}
		gbRoot("gc").Run()
		os.RemoveAll(rootDir)
	}
	os.Exit(code)
}

var glassboxBin string

// gbRoot returns the package's glassbox root with busybox pulled into it, and the image ref.
func gbRoot(t *testing.T) (root, image string) {
	t.Helper()
	fixture.NeedRoot(t)
	fixture.NeedBinary(t, "runc")
	glassboxBin = fixture.Glassbox(t)
	ref := fixture.SharedBusybox(t)
	rootOnce.Do(func() {
		var err error
		if rootDir, err = os.MkdirTemp("", "gbexec-root-"); err != nil {
			rootErr = err
			return
		}
		// Searchable, as glassbox makes its own root: --userns=remap's root must reach its rootfs.
		if err := os.Chmod(rootDir, 0o711); err != nil {
			rootErr = err
			return
		}
		if out, err := exec.Command(glassboxBin, "--root", rootDir, "pull", "-q", ref).CombinedOutput(); err != nil {
			rootErr = fmt.Errorf("pull %s: %v: %s", ref, err, out)
		}
		imageRef = ref
	})
	if rootErr != nil {
		t.Fatal(rootErr)
	}
	return rootDir, imageRef
}

var imageRef string

// ctr is a running container the test made.
type ctr struct {
	*fixture.CLI
	t     *testing.T
	name  string
	pid   int    // its init, in this PID namespace
	trace string // GLASSBOX_EXEC_TRACE of its execs: which path ran the last one
}

// runContainer starts `glassbox run -d --name NAME [flags] busybox sleep 3600` and removes it
// when the test ends.
func runContainer(t *testing.T, flags ...string) *ctr {
	t.Helper()
	root, image := gbRoot(t)
	c := &ctr{CLI: fixture.NewCLI(t, root), t: t, name: uniqueName(t), trace: filepath.Join(t.TempDir(), "exec-trace")}
	args := append([]string{"run", "-d", "--name", c.name}, flags...)
	args = append(args, image, "sleep", "3600")
	if r := c.Run(args...); r.Code != 0 {
		t.Fatalf("run: exit %d: %s", r.Code, r.Stderr)
	}
	t.Cleanup(func() { c.Command("rm", "-f", c.name).Run() })
	c.pid = c.inspect().State.Pid
	if c.pid <= 0 {
		t.Fatalf("container %s has no pid", c.name)
	}
	// run -d returns once the runtime let the init go, which may be just before its execve:
	// wait until the init is the container's sleep, so its credentials are the final ones.
	want := "sleep\x003600\x00"
	for deadline := time.Now().Add(10 * time.Second); ; {
		cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", c.pid))
		if err == nil && string(cmdline) == want {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("container %s: init %d never ran sleep (cmdline %q, %v)", c.name, c.pid, cmdline, err)
		}
		time.Sleep(5 * time.Millisecond)
	}
	// The first exec (Go) leaves the record the next ones run from without Go: from here on
	// the container's execs take the fast path, unless the test runs on the Go path or the
	// container's processes may hold CAP_SYS_PTRACE.
	for i, want := range []string{"go", wantFastPath(flags)} {
		if r := c.exec("true"); r.Code != 0 || c.path() != want {
			t.Fatalf("exec %d into %s: exit %d, path %q, want %q: %s", i, c.name, r.Code, c.path(), want, r.Stderr)
		}
	}
	return c
}

// wantFastPath is the path an exec without flags takes into a container run with flags.
func wantFastPath(flags []string) string {
	if os.Getenv("GLASSBOX_EXEC") == "go" {
		return "go"
	}
	for _, f := range flags {
		if strings.Contains(f, "SYS_PTRACE") || f == "--privileged" {
			return "go"
		}
	}
	return "c"
}

// path says which path ran the container's last exec: "c" (the constructor's fast path) or
// "go".
func (c *ctr) path() string {
	data, _ := os.ReadFile(c.trace)
	return string(data)
}

// traced makes cmd report its path to c.path.
func (c *ctr) traced(cmd *exec.Cmd) *exec.Cmd {
	os.Remove(c.trace)
	cmd.Env = append(os.Environ(), "GLASSBOX_EXEC_TRACE="+c.trace)
	return cmd
}

// exec runs `glassbox exec [flags] NAME args...`; flags end at the first "--".
func (c *ctr) exec(args ...string) fixture.Result {
	c.t.Helper()
	return c.RunCmd(c.traced(c.Command(c.execArgs(args...)...)))
}

func (c *ctr) execArgs(args ...string) []string {
	i := 0
	for i < len(args) && args[i] != "--" {
		i++
	}
	if i == len(args) {
		return append([]string{"exec", c.name}, args...)
	}
	out := append([]string{"exec"}, args[:i]...)
	return append(append(out, c.name), args[i+1:]...)
}

// must runs exec and fails the test unless it exits 0; it returns stdout, trimmed.
func (c *ctr) mustExec(args ...string) string {
	c.t.Helper()
	r := c.exec(args...)
	if r.Code != 0 {
		c.t.Fatalf("exec %v: exit %d: %s%s", args, r.Code, r.Stdout, r.Stderr)
	}
	return strings.TrimSpace(r.Stdout)
}

func (c *ctr) inspect() engine.ContainerDetail {
	c.t.Helper()
	var d engine.ContainerDetail
	c.Inspect(c.name, &d)
	return d
}

// procStatus returns the fields of a /proc/PID/status text.
func procStatus(text string) map[string]string {
	m := map[string]string{}
	for _, line := range strings.Split(text, "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok {
			m[k] = strings.TrimSpace(v)
		}
	}
	return m
}

func statDev(st os.FileInfo) string {
	if s, ok := st.Sys().(*syscall.Stat_t); ok {
		return strconv.FormatUint(s.Dev, 10)
	}
	return ""
}
