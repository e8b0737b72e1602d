package main

import (
	"os"
	"reflect"
	"strings"
	"testing"
)

// The /proc reader on this test process itself: its namespaces are the host's (or its
// sandbox's), it appears in its own process list with its PID, and / is mounted.
func TestProcInspectorSelf(t *testing.T) {
	p := procInspector{proc: "/proc"}
	pid := os.Getpid()
	nss, err := p.Namespaces(t.Context(), pid)
	if err != nil {
		t.Fatal(err)
	}
	types := map[string]bool{}
	for _, ns := range nss {
		types[ns.Type] = true
		if ns.Inode == 0 || ns.Sharers < 1 {
			t.Errorf("namespace %+v: no inode or no sharer (we are in it)", ns)
		}
	}
	for _, want := range []string{"mnt", "pid", "net", "user", "uts", "ipc"} {
		if !types[want] {
			t.Errorf("no %s namespace in %v", want, nss)
		}
	}
	procs, err := p.Processes(t.Context(), pid)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, pr := range procs {
		if pr.HostPID == pid {
			found = true
			if !strings.Contains(pr.Command, ".test") {
				t.Errorf("our command line is %q", pr.Command)
			}
		}
	}
	if !found {
		t.Errorf("process list of our pid namespace lacks us (%d)", pid)
	}
	mounts, err := p.Mounts(t.Context(), pid)
	if err != nil || len(mounts) == 0 {
		t.Fatalf("mounts: %v, %d", err, len(mounts))
	}
	sec, err := p.Security(t.Context(), pid)
	if err != nil || sec.Seccomp == "" {
		t.Fatalf("security: %v %+v", err, sec)
	}
	if _, err := p.Namespaces(t.Context(), 1<<30); err == nil {
		t.Errorf("a PID that does not exist should be an error")
	}
}

func TestCapNames(t *testing.T) {
	for _, tc := range []struct {
		hex  string
		want []string
	}{
		{"0000000000000000", nil},
		{"0000000000000001", []string{"CAP_CHOWN"}},
		{"00000000a80425fb", []string{"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL", "CAP_SETGID",
			"CAP_SETUID", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE", "CAP_NET_RAW", "CAP_SYS_CHROOT", "CAP_MKNOD", "CAP_AUDIT_WRITE", "CAP_SETFCAP"}},
		{"8000000000000000", []string{"cap_63"}},
		{"zz", nil},
	} {
		if got := capNames(tc.hex); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("capNames(%s) = %v, want %v", tc.hex, got, tc.want)
		}
	}
}

func TestUnescapeMount(t *testing.T) {
	if got := unescapeMount(`/mnt/with\040space\134x`); got != `/mnt/with space\x` {
		t.Errorf("unescapeMount = %q", got)
	}
}
