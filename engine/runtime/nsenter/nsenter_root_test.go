package nsenter

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/glassbox/glassbox/test/fixture"
)

// The root tests run the real glassbox binary, whose constructor does the work.

func TestJoinErrorNamesStepAndNamespace(t *testing.T) {
	fixture.NeedRoot(t)
	for _, tc := range []struct {
		ns    Namespace
		want  string
		errno syscall.Errno
	}{
		{Namespace{Type: "net", Path: "/etc/hostname"}, "setns net /etc/hostname: invalid argument", unix.EINVAL},
		{Namespace{Type: "uts", Path: "/no/such/ns"}, "open uts namespace /no/such/ns: no such file or directory", unix.ENOENT},
		{Namespace{Type: "ipc", Path: "/proc/self/ns/net", Of: "pid 42"}, "setns ipc of pid 42: invalid argument", unix.EINVAL},
	} {
		cmd := Command(Config{Join: []Namespace{tc.ns}}, ExecEntry)
		cmd.Path = fixture.Glassbox(t)
		err := cmd.Start()
		var se *StepError
		if !errors.As(err, &se) || err.Error() != tc.want || !errors.Is(err, tc.errno) {
			t.Errorf("Start = %v; want StepError %q", err, tc.want)
		}
	}
}

func TestUnshareWritesMapsAndForksIntoNewPIDNamespace(t *testing.T) {
	fixture.NeedRoot(t)
	var out, errOut bytes.Buffer
	cfg := Config{
		Unshare:     unix.CLONE_NEWUSER | unix.CLONE_NEWPID | unix.CLONE_NEWUTS | unix.CLONE_NEWIPC,
		UIDMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: 200000, Size: 65536}},
		GIDMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: 200000, Size: 65536}},
	}
	script := `echo "pid $$"; echo "uid $(id -u) $(id -g)"; echo "map $(cat /proc/self/uid_map | tr -s ' ')"; echo "setgroups $(cat /proc/self/setgroups)"; echo "utsowner $(readlink /proc/self/ns/user)"`
	r, err := start(cfg, Process{
		Args: []string{"sh", "-c", script}, Env: []string{"PATH=/usr/bin:/bin"},
		Stdout: &out, Stderr: &errOut, Binary: fixture.Glassbox(t),
	}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	hostUser, _ := os.Readlink(fmt.Sprintf("/proc/%d/ns/user", r.Pid))
	if code, err := r.Wait(); code != 0 || err != nil {
		t.Fatalf("exit %d, %v: %s", code, err, errOut.String())
	}
	got := map[string]string{}
	for _, line := range strings.Split(out.String(), "\n") {
		if k, v, ok := strings.Cut(line, " "); ok {
			got[k] = v
		}
	}
	// The first process of a new PID namespace is its init.
	if got["pid"] != "1" {
		t.Errorf("pid inside = %q, want 1", got["pid"])
	}
	if got["uid"] != "0 0" {
		t.Errorf("uid gid inside = %q, want 0 0", got["uid"])
	}
	if strings.TrimSpace(got["map"]) != "0 200000 65536" {
		t.Errorf("uid_map = %q", got["map"])
	}
	if got["setgroups"] != "deny" {
		t.Errorf("setgroups = %q, want deny", got["setgroups"])
	}
	own, _ := os.Readlink("/proc/self/ns/user")
	if hostUser == "" || hostUser == own || got["utsowner"] != hostUser {
		t.Errorf("user namespace inside %q, seen from outside %q, ours %q", got["utsowner"], hostUser, own)
	}
}

func TestCgroupJoinFailureNamesTheFile(t *testing.T) {
	fixture.NeedRoot(t)
	cmd := Command(Config{CgroupProcs: []string{"/sys/fs/cgroup/no-such-glassbox-cgroup/cgroup.procs"}}, ExecEntry)
	cmd.Path = fixture.Glassbox(t)
	err := cmd.Start()
	want := "join cgroup /sys/fs/cgroup/no-such-glassbox-cgroup/cgroup.procs: no such file or directory"
	if err == nil || err.Error() != want {
		t.Errorf("Start = %v, want %q", err, want)
	}
}
