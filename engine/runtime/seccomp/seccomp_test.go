//go:build linux && cgo

package seccomp

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"

	profiles "github.com/moby/profiles/seccomp"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/glassbox/glassbox/test/fixture"
)

// The filter cannot be unloaded, so every case runs in a child: the test binary re-executed
// with childEnv set to a JSON childConfig. The child loads the profile, then probes syscalls
// and prints a childReport.
const childEnv = "GLASSBOX_SECCOMP_TEST_CHILD"

type childConfig struct {
	Profile    *specs.LinuxSeccomp
	NoNewPrivs bool   // set no_new_privs before Apply (the unprivileged path)
	Dir        string // where mkdir probes
}

type childReport struct {
	ApplyErr string
	// Errno of each probe, 0 for success.
	Mkdir, MkdirOtherThread, SocketInet, SocketInet6, SocketUnix, Clone3, Keyctl int
	// /proc/self/status Seccomp and Seccomp_filters before and after Apply, and the
	// Seccomp mode of a thread that existed before Apply (TSYNC).
	ModeBefore, ModeAfter, FiltersBefore, FiltersAfter, OtherThreadMode string
}

func TestMain(m *testing.M) {
	if cfg := os.Getenv(childEnv); cfg != "" {
		os.Exit(child(cfg))
	}
	os.Exit(m.Run())
}

func child(cfgJSON string) int {
	var cfg childConfig
	if err := json.Unmarshal([]byte(cfgJSON), &cfg); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	// A thread made before Apply, parked until after it: TSYNC must reach it.
	probe, done := make(chan struct{}), make(chan [2]string)
	ready := make(chan struct{})
	go func() {
		runtime.LockOSThread() // never unlocked: the thread dies with the goroutine
		close(ready)
		<-probe
		err := errno(unix.Mkdir(filepath.Join(cfg.Dir, "other-thread"), 0o755))
		done <- [2]string{strconv.Itoa(err), statusField("/proc/thread-self/status", "Seccomp")}
	}()
	<-ready

	var r childReport
	r.ModeBefore = statusField("/proc/self/status", "Seccomp")
	r.FiltersBefore = statusField("/proc/self/status", "Seccomp_filters")
	if cfg.NoNewPrivs {
		if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
			fmt.Fprintln(os.Stderr, "prctl:", err)
			return 2
		}
	}
	if err := Apply(cfg.Profile); err != nil {
		r.ApplyErr = err.Error()
	}
	r.ModeAfter = statusField("/proc/self/status", "Seccomp")
	r.FiltersAfter = statusField("/proc/self/status", "Seccomp_filters")
	r.Mkdir = errno(unix.Mkdir(filepath.Join(cfg.Dir, "d"), 0o755))
	close(probe)
	other := <-done
	r.MkdirOtherThread, _ = strconv.Atoi(other[0])
	r.OtherThreadMode = other[1]
	r.SocketInet = socketErrno(unix.AF_INET)
	r.SocketInet6 = socketErrno(unix.AF_INET6)
	r.SocketUnix = socketErrno(unix.AF_UNIX)
	// clone3 with a zero size is EINVAL from the kernel; docker's profile answers ENOSYS
	// first so that glibc falls back to clone.
	_, _, e := unix.Syscall(unix.SYS_CLONE3, 0, 0, 0)
	r.Clone3 = int(e)
	// keyctl(KEYCTL_GET_KEYRING_ID, bad id) is ENOKEY from the kernel; docker blocks keyctl.
	_, _, e = unix.Syscall(unix.SYS_KEYCTL, unix.KEYCTL_GET_KEYRING_ID, 1<<30, 0)
	r.Keyctl = int(e)
	json.NewEncoder(os.Stdout).Encode(r)
	return 0
}

func errno(err error) int {
	var e syscall.Errno
	if errors.As(err, &e) {
		return int(e)
	}
	if err != nil {
		return -1
	}
	return 0
}

func socketErrno(domain int) int {
	fd, err := unix.Socket(domain, unix.SOCK_STREAM, 0)
	if err == nil {
		unix.Close(fd)
	}
	return errno(err)
}

func statusField(path, field string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "error: " + err.Error()
	}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && k == field {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// runChild runs one case and returns its report, or the child's wait error when it died.
func runChild(t *testing.T, cfg childConfig) (childReport, error) {
	t.Helper()
	cfg.Dir = t.TempDir()
	b, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+string(b))
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return childReport{}, fmt.Errorf("%w (stderr: %s)", err, stderr.String())
	}
	var r childReport
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatalf("child output %q: %v", out, err)
	}
	return r, nil
}

func uintp(v uint) *uint { return &v }

// dockerDefault is docker's default profile for a container with docker's default
// capabilities, as `glassbox run` gives it (engine/spec).
func dockerDefault(t *testing.T) *specs.LinuxSeccomp {
	caps := []string{"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD",
		"CAP_NET_RAW", "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP",
		"CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE"}
	s := &specs.Spec{Process: &specs.Process{Capabilities: &specs.LinuxCapabilities{
		Bounding: caps, Effective: caps, Permitted: caps}}}
	p, err := profiles.GetDefaultProfile(s)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestApply(t *testing.T) {
	if !Supported() {
		fixture.Need(t, false, "kernel has no seccomp filter support")
	}
	denyMkdir := func(errnoRet *uint) *specs.LinuxSeccomp {
		return &specs.LinuxSeccomp{
			DefaultAction: specs.ActAllow,
			Architectures: []specs.Arch{specs.ArchX86_64, specs.ArchX86, specs.ArchX32},
			Syscalls: []specs.LinuxSyscall{{
				// An unknown name is skipped, not an error (runc's behaviour).
				Names:    []string{"mkdir", "mkdirat", "glassbox_no_such_syscall"},
				Action:   specs.ActErrno,
				ErrnoRet: errnoRet,
			}},
		}
	}
	socketRule := func(args ...specs.LinuxSeccompArg) *specs.LinuxSeccomp {
		return &specs.LinuxSeccomp{
			DefaultAction: specs.ActAllow,
			Syscalls: []specs.LinuxSyscall{{
				Names: []string{"socket"}, Action: specs.ActErrno,
				ErrnoRet: uintp(uint(unix.EAFNOSUPPORT)), Args: args,
			}},
		}
	}
	exdevDefault := dockerDefault(t)
	exdevDefault.DefaultErrnoRet = uintp(uint(unix.EXDEV))

	eperm, eacces, eaf := int(unix.EPERM), int(unix.EACCES), int(unix.EAFNOSUPPORT)
	tests := []struct {
		name    string
		profile *specs.LinuxSeccomp
		nnp     bool
		root    bool
		check   func(t *testing.T, r childReport)
	}{
		{"errno defaults to EPERM", denyMkdir(nil), true, false, func(t *testing.T, r childReport) {
			want(t, "mkdir", r.Mkdir, eperm)
			want(t, "mkdir on a thread older than the filter", r.MkdirOtherThread, eperm)
			want(t, "socket(AF_INET)", r.SocketInet, 0)
		}},
		{"errnoRet", denyMkdir(uintp(uint(unix.EACCES))), true, false, func(t *testing.T, r childReport) {
			want(t, "mkdir", r.Mkdir, eacces)
		}},
		{"as root without no_new_privs", denyMkdir(nil), false, true, func(t *testing.T, r childReport) {
			want(t, "mkdir", r.Mkdir, eperm)
		}},
		{"arg equal", socketRule(specs.LinuxSeccompArg{Index: 0, Value: unix.AF_INET, Op: specs.OpEqualTo}), true, false,
			func(t *testing.T, r childReport) {
				want(t, "socket(AF_INET)", r.SocketInet, eaf)
				want(t, "socket(AF_INET6)", r.SocketInet6, 0)
				want(t, "socket(AF_UNIX)", r.SocketUnix, 0)
			}},
		{"two conditions on one arg are ORed", socketRule(
			specs.LinuxSeccompArg{Index: 0, Value: unix.AF_INET, Op: specs.OpEqualTo},
			specs.LinuxSeccompArg{Index: 0, Value: unix.AF_INET6, Op: specs.OpEqualTo}), true, false,
			func(t *testing.T, r childReport) {
				want(t, "socket(AF_INET)", r.SocketInet, eaf)
				want(t, "socket(AF_INET6)", r.SocketInet6, eaf)
				want(t, "socket(AF_UNIX)", r.SocketUnix, 0)
			}},
		{"conditions on two args are ANDed", socketRule(
			specs.LinuxSeccompArg{Index: 0, Value: unix.AF_INET6, Op: specs.OpEqualTo},
			specs.LinuxSeccompArg{Index: 1, Value: unix.SOCK_STREAM, Op: specs.OpEqualTo}), true, false,
			func(t *testing.T, r childReport) {
				want(t, "socket(AF_INET)", r.SocketInet, 0)
				want(t, "socket(AF_INET6, SOCK_STREAM)", r.SocketInet6, eaf)
			}},
		{"masked equal", socketRule(
			// AF_INET is 2, AF_INET6 10 (0b1010), AF_UNIX 1: mask 0b10 matches the first two.
			specs.LinuxSeccompArg{Index: 0, Value: 0b10, ValueTwo: 0b10, Op: specs.OpMaskedEqual}), true, false,
			func(t *testing.T, r childReport) {
				want(t, "socket(AF_INET)", r.SocketInet, eaf)
				want(t, "socket(AF_INET6)", r.SocketInet6, eaf)
				want(t, "socket(AF_UNIX)", r.SocketUnix, 0)
			}},
		{"docker default", dockerDefault(t), true, false, func(t *testing.T, r childReport) {
			want(t, "mkdir", r.Mkdir, 0)
			want(t, "socket(AF_INET)", r.SocketInet, 0)
			want(t, "clone3", r.Clone3, int(unix.ENOSYS))
			want(t, "keyctl", r.Keyctl, eperm)
		}},
		{"docker default with defaultErrnoRet", exdevDefault, true, false, func(t *testing.T, r childReport) {
			want(t, "keyctl", r.Keyctl, int(unix.EXDEV))
			want(t, "mkdir", r.Mkdir, 0)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.root {
				fixture.NeedRoot(t)
			}
			r, err := runChild(t, childConfig{Profile: tt.profile, NoNewPrivs: tt.nnp})
			if err != nil {
				t.Fatal(err)
			}
			if r.ApplyErr != "" {
				t.Fatalf("Apply: %s", r.ApplyErr)
			}
			before, _ := strconv.Atoi(r.FiltersBefore)
			after, _ := strconv.Atoi(r.FiltersAfter)
			if r.ModeAfter != "2" || after != before+1 || r.OtherThreadMode != "2" {
				t.Errorf("status after Apply: Seccomp %q (thread made before: %q), Seccomp_filters %s -> %s; want mode 2 on both and one more filter",
					r.ModeAfter, r.OtherThreadMode, r.FiltersBefore, r.FiltersAfter)
			}
			// Without the filter every probe but the deliberately bad ones succeeds.
			tt.check(t, r)
		})
	}
}

func want(t *testing.T, what string, got, want int) {
	t.Helper()
	if got != want {
		t.Errorf("%s: errno %d (%v), want %d (%v)", what, got, syscall.Errno(got), want, syscall.Errno(want))
	}
}

// Without the filter the probes behave as the cases assume: this makes the cases above
// able to fail for the right reason.
func TestProbesUnfiltered(t *testing.T) {
	r, err := runChild(t, childConfig{})
	if err != nil {
		t.Fatal(err)
	}
	want(t, "mkdir", r.Mkdir, 0)
	want(t, "socket(AF_INET)", r.SocketInet, 0)
	want(t, "clone3", r.Clone3, int(unix.EINVAL))
	want(t, "keyctl", r.Keyctl, int(unix.ENOKEY))
	if r.FiltersBefore != r.FiltersAfter {
		t.Errorf("nil profile changed Seccomp_filters %s -> %s", r.FiltersBefore, r.FiltersAfter)
	}
}

func TestKillProcess(t *testing.T) {
	if !Supported() {
		fixture.Need(t, false, "kernel has no seccomp filter support")
	}
	_, err := runChild(t, childConfig{NoNewPrivs: true, Profile: &specs.LinuxSeccomp{
		DefaultAction: specs.ActAllow,
		Syscalls:      []specs.LinuxSyscall{{Names: []string{"mkdirat", "mkdir"}, Action: specs.ActKillProcess}},
	}})
	var exit *exec.ExitError
	if !errors.As(err, &exit) {
		t.Fatalf("child survived mkdir under SCMP_ACT_KILL_PROCESS: %v", err)
	}
	ws := exit.Sys().(syscall.WaitStatus)
	if !ws.Signaled() || ws.Signal() != syscall.SIGSYS {
		t.Fatalf("child ended with %v, want killed by SIGSYS", ws)
	}
}

// Bad profiles fail in build, before anything is loaded, naming the field.
func TestBuildErrors(t *testing.T) {
	allow := func(s specs.LinuxSeccomp) *specs.LinuxSeccomp {
		if s.DefaultAction == "" {
			s.DefaultAction = specs.ActAllow
		}
		return &s
	}
	tests := []struct {
		name        string
		profile     *specs.LinuxSeccomp
		errContains string
		unsupported bool
	}{
		{"listenerPath", allow(specs.LinuxSeccomp{ListenerPath: "/run/x.sock"}), "listenerPath", true},
		{"notify action", allow(specs.LinuxSeccomp{Syscalls: []specs.LinuxSyscall{{Names: []string{"mkdir"}, Action: specs.ActNotify}}}), "syscalls[0]", true},
		{"unknown default action", allow(specs.LinuxSeccomp{DefaultAction: "SCMP_ACT_NOPE"}), "defaultAction", false},
		{"unknown action", allow(specs.LinuxSeccomp{Syscalls: []specs.LinuxSyscall{{Names: []string{"mkdir"}, Action: "x"}}}), "syscalls[0]: unknown action", false},
		{"unknown arch", allow(specs.LinuxSeccomp{Architectures: []specs.Arch{"SCMP_ARCH_VAX"}}), "architectures", false},
		{"unknown op", allow(specs.LinuxSeccomp{Syscalls: []specs.LinuxSyscall{{Names: []string{"mkdir"}, Action: specs.ActErrno,
			Args: []specs.LinuxSeccompArg{{Index: 0, Op: "SCMP_CMP_ABOUT"}}}}}), "unknown op", false},
		{"arg index", allow(specs.LinuxSeccomp{Syscalls: []specs.LinuxSyscall{{Names: []string{"mkdir"}, Action: specs.ActErrno,
			Args: []specs.LinuxSeccompArg{{Index: 6, Op: specs.OpEqualTo}}}}}), "index 6", false},
		{"unknown flag", allow(specs.LinuxSeccomp{Flags: []specs.LinuxSeccompFlag{"SECCOMP_FILTER_FLAG_MAGIC"}}), "flags", false},
		{"wait killable without notify", allow(specs.LinuxSeccomp{Flags: []specs.LinuxSeccompFlag{specs.LinuxSeccompFlagWaitKillableRecv}}), "flags", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := build(tt.profile)
			if err == nil {
				f.Release()
				t.Fatal("build accepted a bad profile")
			}
			if !strings.Contains(err.Error(), tt.errContains) {
				t.Errorf("error %q does not name %q", err, tt.errContains)
			}
			if got := errors.Is(err, ErrUnsupported); got != tt.unsupported {
				t.Errorf("errors.Is(%v, ErrUnsupported) = %v, want %v", err, got, tt.unsupported)
			}
		})
	}
	// Valid flags and a rule equal to the default action build.
	f, err := build(&specs.LinuxSeccomp{DefaultAction: specs.ActAllow,
		Flags:    []specs.LinuxSeccompFlag{"SECCOMP_FILTER_FLAG_TSYNC", specs.LinuxSeccompFlagLog, specs.LinuxSeccompFlagSpecAllow},
		Syscalls: []specs.LinuxSyscall{{Names: []string{"mkdir"}, Action: specs.ActAllow}}})
	if err != nil {
		t.Fatalf("valid profile: %v", err)
	}
	f.Release()
}

func TestFeatures(t *testing.T) {
	f := Features()
	if f.Enabled == nil || *f.Enabled != Supported() {
		t.Errorf("Enabled = %v, Supported() = %v", f.Enabled, Supported())
	}
	for _, want := range []string{"SCMP_ACT_ERRNO", "SCMP_ACT_KILL_PROCESS"} {
		if !strings.Contains(strings.Join(f.Actions, " "), want) {
			t.Errorf("Actions %v lacks %s", f.Actions, want)
		}
	}
	if len(f.Operators) != 7 || !strings.Contains(strings.Join(f.Archs, " "), "SCMP_ARCH_X86_64") {
		t.Errorf("Operators %v, Archs %v", f.Operators, f.Archs)
	}
	if v := Version(); !strings.HasPrefix(v, "2.") {
		t.Errorf("Version() = %q, want libseccomp 2.x", v)
	}
}
