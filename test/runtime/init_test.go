package runtime_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/glassbox/glassbox/engine/runtime"
)

// Every other test here runs the default init, the C one (engine/runtime/plan.go and
// nsenter/initc.c). These run the Go init too (GLASSBOX_INIT=go), compare the two, and check
// which one ran.

// TestGoInit runs a representative subset of this package's tests on the Go init.
func TestGoInit(t *testing.T) {
	t.Setenv("GLASSBOX_INIT", "go")
	for _, tc := range []struct {
		name string
		f    func(*testing.T)
	}{
		{"RunEcho", TestRunEcho}, {"Isolation", TestIsolation}, {"UserNamespace", TestUserNamespace},
		{"Console", TestConsole}, {"NonRootUser", TestNonRootUser}, {"NoPivotAndTimeNamespace", TestNoPivotAndTimeNamespace},
		{"TerminalCwdEnvRlimit", TestTerminalCwdEnvRlimit}, {"Trace", TestTrace}, {"BadConfig", TestBadConfig},
		{"ProgramNotFoundOrNotExecutable", TestProgramNotFoundOrNotExecutable}, {"HostileRootfs", TestHostileRootfs},
		{"SymlinkMountTargetStaysInRootfs", TestSymlinkMountTargetStaysInRootfs},
		{"CVE2024_21626NoHostFDOrCwd", TestCVE2024_21626NoHostFDOrCwd},
	} {
		t.Run(tc.name, tc.f)
	}
}

// threads returns the Threads: line of a process's status.
func threads(t *testing.T, pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "Threads:"); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// TestInitWithoutGo: by default the created container's init, blocked before execve, is
// the C one: one thread (a Go runtime always has several) and the trace says so, and shows
// the execve as its own step; GLASSBOX_INIT=go gives the Go init.
func TestInitWithoutGo(t *testing.T) {
	for _, mode := range []string{"c", "go"} {
		t.Run(mode, func(t *testing.T) {
			t.Setenv("GLASSBOX_INIT", mode)
			r := newRuntime(t)
			id := "init-" + mode
			c, wait := create(t, r, id, bundle(t, "", nil, "echo", "hi"))
			n := threads(t, c.Pid)
			// The parent moved the init into every hierarchy of the container's cgroup.
			cg, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", c.Pid))
			if err != nil {
				t.Fatal(err)
			}
			if n := strings.Count(string(cg), "/glassbox/rt-TestInitWithoutGo-"+mode+"\n"); n != len(c.CgroupPaths) {
				t.Errorf("the init's cgroups:\n%s\nwant all %d in the container's", cg, len(c.CgroupPaths))
			}
			if err := r.Start(id); err != nil {
				t.Fatal(err)
			}
			if res := wait(); res.out != "hi\n" || res.status.ExitStatus() != 0 {
				t.Fatalf("output %q status %v", res.out, res.status)
			}
			tr, err := traceOf(t, r, id)
			if err != nil {
				t.Fatal(err)
			}
			want, wantThreads := "init C init (nsenter/initc.c)", "1"
			if mode == "go" {
				want = "init Go init (runtime-init): GLASSBOX_INIT=go"
			}
			if !strings.Contains(tr, want) {
				t.Errorf("trace lacks %q:\n%s", want, tr)
			}
			if mode == "c" && (n != wantThreads || !strings.Contains(tr, "\nexecve ")) {
				t.Errorf("C init: %s threads (want 1), execve step in the trace: %v", n, strings.Contains(tr, "\nexecve "))
			}
			if mode == "go" && n == "1" {
				t.Errorf("Go init with one thread: is it the C one?")
			}
		})
	}
}

// TestStartContainerHooks: both inits run startContainer hooks after Start, inside the
// container's namespaces and root (the hook sees its hostname and mount namespace), before
// the program (which reads what the hook wrote), with the running state on stdin; the C init
// runs them itself (no fallback to Go). A failing hook stops the program and says why.
func TestStartContainerHooks(t *testing.T) {
	for _, mode := range []string{"c", "go"} {
		t.Run(mode, func(t *testing.T) {
			t.Setenv("GLASSBOX_INIT", mode)
			r := newRuntime(t)
			out := t.TempDir()
			id := "starthook-" + mode
			hook := `cat > ` + out + `/state; hostname > ` + out + `/host; readlink /proc/self/ns/mnt > ` + out + `/mnt; test -d /proc/1/root/` + strings.TrimPrefix(out, "/") + ` && echo in-root > ` + out + `/root`
			_, wait := create(t, r, id, bundle(t, "", func(s *specs.Spec) {
				s.Hostname = "hooked"
				s.Hooks = &specs.Hooks{StartContainer: []specs.Hook{{Path: "/bin/sh", Args: []string{"sh", "-c", hook}}}}
				s.Mounts = append(s.Mounts, specs.Mount{Destination: out, Source: out, Type: "bind", Options: []string{"rbind", "rw"}})
			}, "sh", "-c", "cat "+out+"/host "+out+"/root; readlink /proc/self/ns/mnt"))
			if err := r.Start(id); err != nil {
				t.Fatal(err)
			}
			res := wait()
			mnt, _ := os.ReadFile(filepath.Join(out, "mnt"))
			hostMnt, _ := os.Readlink("/proc/self/ns/mnt")
			if res.out != "hooked\nin-root\n"+string(mnt) || string(mnt) == hostMnt+"\n" {
				t.Errorf("the program printed %q; the hook's mount namespace %q (the host's %s)", res.out, mnt, hostMnt)
			}
			var st specs.State
			b, _ := os.ReadFile(filepath.Join(out, "state"))
			if err := json.Unmarshal(b, &st); err != nil || st.ID != id || st.Status != specs.StateRunning || st.Pid <= 0 {
				t.Errorf("the hook read the state %q (%v)", b, err)
			}
			tr, _ := traceOf(t, r, id)
			if want := map[string]string{"c": "init C init", "go": "init Go init"}[mode]; !strings.Contains(tr, want) {
				t.Errorf("trace does not say %q:\n%s", want, tr)
			}

			bad := "bad-" + mode
			_, wait = create(t, r, bad, bundle(t, "", func(s *specs.Spec) {
				s.Linux.CgroupsPath = "rt-" + bad
				s.Hooks = &specs.Hooks{StartContainer: []specs.Hook{{Path: "/bin/sh", Args: []string{"sh", "-c", "echo hook says no; exit 3"}}}}
			}, "echo", "program-ran"))
			r.Start(bad)
			res = wait()
			if want := "glassbox: init: startContainer hook: hook 0 (/bin/sh): exit status 3: hook says no\n"; res.out != want {
				t.Errorf("a failing startContainer hook: output %q, want %q", res.out, want)
			}
		})
	}
}

// TestCreateRuntimeHookInC: the C init stops before pivot_root while the parent runs the
// createRuntime hooks, then goes on.
func TestCreateRuntimeHookInC(t *testing.T) {
	r := newRuntime(t)
	out := filepath.Join(t.TempDir(), "state.json")
	id := "hooks-c"
	_, wait := create(t, r, id, bundle(t, "", func(s *specs.Spec) {
		s.Hooks = &specs.Hooks{CreateRuntime: []specs.Hook{{Path: "/bin/sh", Args: []string{"sh", "-c", "cat > " + out}}}}
	}, "echo", "after-hooks"))
	if err := r.Start(id); err != nil {
		t.Fatal(err)
	}
	if res := wait(); res.out != "after-hooks\n" {
		t.Fatalf("output %q status %v", res.out, res.status)
	}
	if b, err := os.ReadFile(out); err != nil || !strings.Contains(string(b), `"id":"hooks-c"`) {
		t.Errorf("createRuntime hook read %q (%v)", b, err)
	}
	tr, _ := traceOf(t, r, id)
	hooks, pivot := strings.Index(tr, "hooks createRuntime"), strings.Index(tr, "pivot_root")
	if !strings.Contains(tr, "init C init") || hooks < 0 || pivot < hooks {
		t.Errorf("want the C init, the hooks before pivot_root:\n%s", tr)
	}
}

// TestInitErrorsAlike: a failure in the init reads the same from both inits, word for word,
// and maps to the same error kind (127, 126).
func TestInitErrorsAlike(t *testing.T) {
	cases := []struct {
		name  string
		setup func(rootfs string) error
		edit  func(*specs.Spec)
		args  []string
		want  string
	}{
		{"unknown filesystem", nil, func(s *specs.Spec) {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/mnt", Type: "nosuchfs", Source: "x"})
		}, nil, "init: mounts[7] (/mnt): mount x on /mnt: no such device"},
		{"proc is a symlink", func(rootfs string) error {
			os.Remove(filepath.Join(rootfs, "proc"))
			return os.Symlink("/etc", filepath.Join(rootfs, "proc"))
		}, nil, nil, "init: mounts[0] (/proc): open /proc in the rootfs: too many levels of symbolic links (a symlink is on the way)"},
		{"/dev/null is a symlink", func(rootfs string) error {
			os.MkdirAll(filepath.Join(rootfs, "dev"), 0o755)
			return os.Symlink("/etc/passwd", filepath.Join(rootfs, "dev/null"))
		}, func(s *specs.Spec) { s.Mounts = dropMount(s.Mounts, "/dev") }, nil, "linux.maskedPaths: /dev/null: "},
		{"masked path is a symlink", func(rootfs string) error {
			return os.Symlink("/bin/busybox", filepath.Join(rootfs, "masked"))
		}, func(s *specs.Spec) { s.Linux.MaskedPaths = append(s.Linux.MaskedPaths, "/masked") }, nil, "init: linux.maskedPaths: /masked is a symlink"},
		{"bad sysctl", nil, func(s *specs.Spec) { s.Linux.Sysctl = map[string]string{"net.nosuch.key": "1"} }, nil,
			"init: linux.sysctl: write /proc/sys/net/nosuch/key: open /proc/sys/net/nosuch/key: no such file or directory"},
		{"symlink loop at a mount target", func(rootfs string) error {
			return os.Symlink("loop", filepath.Join(rootfs, "loop"))
		}, func(s *specs.Spec) {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/loop/x", Type: "tmpfs", Source: "tmpfs"})
		}, nil, "init: mounts[7] (/loop/x): resolve /loop/x in the rootfs: too many levels of symbolic links"},
		{"cwd on a read-only root", nil, func(s *specs.Spec) { s.Process.Cwd = "/nonexistent/dir" }, nil,
			"init: process.cwd: mkdir /nonexistent: read-only file system"},
		{"hostname too long", nil, func(s *specs.Spec) { s.Hostname = strings.Repeat("h", 100) }, nil,
			"init: sethostname: invalid argument"},
		{"deadline scheduler refused by the kernel", nil, func(s *specs.Spec) {
			s.Process.Scheduler = &specs.Scheduler{Policy: specs.SchedDeadline, Runtime: 2e6, Deadline: 1e6, Period: 3e6}
		}, nil, "init: process.scheduler: sched_setattr: invalid argument"},
		{"program not found", nil, nil, []string{"/nonexistent"}, "init: exec /nonexistent: no such file or directory: executable file not found"},
		{"program not in PATH", nil, nil, []string{"nosuchprogram"}, `init: exec "nosuchprogram": executable file not found in $PATH: executable file not found`},
		{"program is a directory", nil, nil, []string{"/bin"}, "init: exec /bin: is a directory: permission denied"},
		{"program not executable", nil, nil, []string{"/etc/passwd"}, "init: exec /etc/passwd: permission denied: permission denied"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := map[string]error{}
			for _, mode := range []string{"c", "go"} {
				t.Setenv("GLASSBOX_INIT", mode)
				r := newRuntime(t)
				rootfs := ""
				if tc.setup != nil {
					rootfs = writableRootfs(t)
					if err := tc.setup(rootfs); err != nil {
						t.Fatal(err)
					}
				}
				args := tc.args
				if args == nil {
					args = []string{"true"}
				}
				c, err := r.Create(context.Background(), "alike-"+mode, runtime.CreateOptions{Bundle: bundle(t, rootfs, tc.edit, args...)})
				if err == nil {
					c.Process.Kill()
					c.Process.Wait()
					r.Delete("alike-"+mode, true)
					t.Fatalf("%s init: create succeeded", mode)
				}
				got[mode] = err
			}
			c, g := got["c"], got["go"]
			if !strings.Contains(c.Error(), tc.want) {
				t.Errorf("C init: %q, want %q", c, tc.want)
			}
			if g.Error() != c.Error() {
				t.Errorf("errors differ:\n  C:  %s\n  Go: %s", c, g)
			}
			for _, kind := range []error{runtime.ErrNotFound, runtime.ErrNotExecutable} {
				if errors.Is(c, kind) != errors.Is(g, kind) {
					t.Errorf("errors.Is(%v): C %v, Go %v", kind, errors.Is(c, kind), errors.Is(g, kind))
				}
			}
		})
	}
}

// TestSeccompInit: the spec's filter is on the container's program, loaded after no_new_privs
// (after Start, right before execve) or, without no_new_privs, before the capability drop,
// in both inits.
func TestSeccompInit(t *testing.T) {
	eperm := uint(syscall.EPERM)
	for _, mode := range []string{"c", "go"} {
		for _, nnp := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s/nnp-%v", mode, nnp), func(t *testing.T) {
				t.Setenv("GLASSBOX_INIT", mode)
				r := newRuntime(t)
				res := run(t, r, bundle(t, "", func(s *specs.Spec) {
					s.Process.NoNewPrivileges = nnp
					s.Linux.Seccomp = &specs.LinuxSeccomp{DefaultAction: specs.ActAllow,
						Syscalls: []specs.LinuxSyscall{{Names: []string{"mkdir", "mkdirat"}, Action: specs.ActErrno, ErrnoRet: &eperm}}}
				}, "sh", "-c", "grep Seccomp: /proc/self/status; mkdir /dev/shm/x && echo made"))
				if !strings.Contains(res.out, "Seccomp:\t2") || strings.Contains(res.out, "made") ||
					!strings.Contains(res.out, "Operation not permitted") {
					t.Errorf("output %q (status %v): want filter mode 2 and mkdir refused with EPERM", res.out, res.status)
				}
			})
		}
	}
}

// TestKillCreated: SIGTERM ends a created container's init, blocked before execve, in both
// inits (a PID namespace's init takes from outside only the signals it handles).
func TestKillCreated(t *testing.T) {
	for _, mode := range []string{"c", "go"} {
		t.Run(mode, func(t *testing.T) {
			t.Setenv("GLASSBOX_INIT", mode)
			r := newRuntime(t)
			id := "killcreated-" + mode
			_, wait := create(t, r, id, bundle(t, "", nil, "true"))
			if err := r.Kill(id, syscall.SIGTERM, false); err != nil {
				t.Fatal(err)
			}
			res := wait()
			if res.status.Exited() && res.status.ExitStatus() == 0 {
				t.Fatalf("the init exited 0 after SIGTERM: did the program run? %v", res.status)
			}
			if st, err := r.State(id); err != nil || st.Status != runtime.StatusStopped {
				t.Fatalf("state %+v %v, want stopped", st, err)
			}
		})
	}
}
