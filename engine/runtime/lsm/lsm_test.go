package lsm

import (
	"os"
	"runtime"
	"strings"
	"testing"
)

// TestSetExecPath: the write goes to this thread's attr file under /proc by PID and TID,
// AppArmor's own directory first and attr/exec where the kernel has none; on a host without
// the module the kernel refuses the value itself (the runtime refuses before, see Check*).
func TestSetExecPath(t *testing.T) {
	if AppArmorEnabled() || SELinuxEnabled() {
		t.Log("host has a security module: the refusal below does not apply")
		return
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	for _, kind := range []int{AppArmor, SELinux} {
		err := SetExec(kind, "glassbox-test")
		if err == nil {
			t.Fatalf("kind %d: SetExec succeeded on a host without the module", kind)
		}
		msg := err.Error()
		if !strings.Contains(msg, "/task/") || !strings.HasSuffix(strings.Fields(msg)[1], "/attr/exec:") {
			t.Errorf("kind %d: %v: want a write of this thread's attr/exec", kind, err)
		}
	}
	if _, err := os.Stat("/proc/self/attr/apparmor"); err == nil {
		t.Log("this kernel has attr/apparmor: the fallback was not exercised")
	}
}

func TestCheckNamesField(t *testing.T) {
	if !AppArmorEnabled() {
		err := CheckAppArmor("process.apparmorProfile", "p")
		if err == nil || !strings.HasPrefix(err.Error(), "process.apparmorProfile: ") {
			t.Errorf("CheckAppArmor without AppArmor: %v", err)
		}
	}
	if !SELinuxEnabled() {
		err := CheckSELinux("linux.mountLabel", "l")
		if err == nil || !strings.HasPrefix(err.Error(), "linux.mountLabel: ") {
			t.Errorf("CheckSELinux without SELinux: %v", err)
		}
	}
	if CheckAppArmor("f", "") != nil || CheckSELinux("f", "") != nil {
		t.Error("an empty profile or label is refused")
	}
}
