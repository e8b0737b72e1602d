package runtime

import (
	"fmt"
	"strings"
	"unsafe"

	"github.com/moby/sys/capability"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/glassbox/glassbox/engine/trace"
)

// capByName maps a spec name ("CAP_CHOWN") to the capability; only capabilities this kernel
// knows are accepted.
func capByName(name string) (capability.Cap, bool) {
	want := strings.ToLower(strings.TrimPrefix(strings.ToUpper(name), "CAP_"))
	last, err := capability.LastCap()
	for _, c := range capability.ListKnown() {
		if c.String() == want && (err != nil || c <= last) {
			return c, true
		}
	}
	return 0, false
}

func capList(names []string) []capability.Cap {
	out := make([]capability.Cap, 0, len(names))
	for _, n := range names {
		if c, ok := capByName(n); ok {
			out = append(out, c)
		}
	}
	return out
}

// dropBoundingSet limits the bounding set to the spec's (needs CAP_SETPCAP, so it comes
// before the switch to the container's user).
func dropBoundingSet(rec *trace.Recorder, c *specs.LinuxCapabilities) error {
	if c == nil {
		c = &specs.LinuxCapabilities{}
	}
	done := rec.Begin("capabilities", "bounding "+capNames(c.Bounding))
	caps, err := capability.NewPid2(0)
	if err == nil {
		err = caps.Load()
	}
	if err == nil {
		caps.Clear(capability.BOUNDS)
		caps.Set(capability.BOUNDING, capList(c.Bounding)...)
		err = caps.Apply(capability.BOUNDS)
	}
	if err != nil {
		err = fmt.Errorf("set bounding capabilities: %w", err)
	}
	done(err)
	return err
}

// setCapabilities sets the effective, permitted and inheritable sets, then raises the ambient
// ones (capabilities(7): an ambient capability must be permitted and inheritable). This
// thread's sets are what execve passes on; the caller holds the OS thread.
func setCapabilities(rec *trace.Recorder, c *specs.LinuxCapabilities) error {
	if c == nil {
		c = &specs.LinuxCapabilities{}
	}
	detail := fmt.Sprintf("effective %s; permitted %s; inheritable %s; ambient %s",
		capNames(c.Effective), capNames(c.Permitted), capNames(c.Inheritable), capNames(c.Ambient))
	done := rec.Begin("capabilities", detail)
	caps, err := capability.NewPid2(0)
	if err == nil {
		err = caps.Load()
	}
	if err == nil {
		caps.Clear(capability.CAPS | capability.AMBS)
		caps.Set(capability.EFFECTIVE, capList(c.Effective)...)
		caps.Set(capability.PERMITTED, capList(c.Permitted)...)
		caps.Set(capability.INHERITABLE, capList(c.Inheritable)...)
		err = caps.Apply(capability.CAPS)
	}
	if err == nil && len(c.Ambient) > 0 {
		// An ambient capability that is not also permitted and inheritable cannot be raised
		// (PR_CAP_AMBIENT_RAISE: EPERM). runc ignores that, and `runc spec` writes such a
		// config (ambient without inheritable), so the process simply gets no ambient set.
		caps.Set(capability.AMBIENT, capList(c.Ambient)...)
		caps.Apply(capability.AMBS)
	}
	if err != nil {
		err = fmt.Errorf("set capabilities: %w", err)
	}
	done(err)
	return err
}

func capNames(names []string) string {
	if len(names) == 0 {
		return "(none)"
	}
	return strings.Join(names, ",")
}

// setUser switches to the process's user and groups, keeping the permitted capabilities
// across setresuid (PR_SET_KEEPCAPS) so setCapabilities can set them for the new user. The
// raw calls change this thread only, which is the one that execs.
func setUser(rec *trace.Recorder, u specs.User, setgroupsAllowed bool) error {
	done := rec.Begin("user", fmt.Sprintf("uid %d gid %d groups %v", u.UID, u.GID, u.AdditionalGids))
	err := func() error {
		if err := unix.Prctl(unix.PR_SET_KEEPCAPS, 1, 0, 0, 0); err != nil {
			return fmt.Errorf("prctl PR_SET_KEEPCAPS: %w", err)
		}
		if setgroupsAllowed || len(u.AdditionalGids) > 0 {
			gids := u.AdditionalGids // []uint32: gid_t, as setgroups(2) takes them
			var p unsafe.Pointer
			if len(gids) > 0 {
				p = unsafe.Pointer(&gids[0])
			}
			if _, _, e := unix.RawSyscall(unix.SYS_SETGROUPS, uintptr(len(gids)), uintptr(p), 0); e != 0 {
				if !(e == unix.EPERM && len(gids) == 0) {
					return fmt.Errorf("setgroups %v: %w", u.AdditionalGids, e)
				}
			}
		}
		if _, _, e := unix.RawSyscall(unix.SYS_SETRESGID, uintptr(u.GID), uintptr(u.GID), uintptr(u.GID)); e != 0 {
			return fmt.Errorf("setresgid %d: %w", u.GID, e)
		}
		if _, _, e := unix.RawSyscall(unix.SYS_SETRESUID, uintptr(u.UID), uintptr(u.UID), uintptr(u.UID)); e != 0 {
			return fmt.Errorf("setresuid %d: %w", u.UID, e)
		}
		if err := unix.Prctl(unix.PR_SET_KEEPCAPS, 0, 0, 0, 0); err != nil {
			return fmt.Errorf("prctl PR_SET_KEEPCAPS: %w", err)
		}
		if u.Umask != nil {
			unix.Umask(int(*u.Umask))
		}
		return nil
	}()
	done(err)
	return err
}
