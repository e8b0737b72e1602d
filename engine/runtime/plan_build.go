package runtime

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/glassbox/glassbox/engine/runtime/lsm"
	"github.com/glassbox/glassbox/engine/runtime/sched"
)

// errPlanFallback: the spec asks for something the plan cannot say; the Go init runs it.
var errPlanFallback = errors.New("the plan cannot express this spec")

// planBuilder turns an initConfig into a plan, step for step in the Go init's order
// (initProcess.setup and exec).
type planBuilder struct {
	plan
	cfg  initConfig
	spec *specs.Spec
}

// buildPlan returns the plan of cfg, or an error wrapping errPlanFallback naming what only
// the Go init does: a spec the Go init refuses (its error is worded there), a seccomp filter
// that cannot be exported.
func buildPlan(cfg initConfig) (*plan, error) {
	b := &planBuilder{cfg: cfg, spec: cfg.Spec}
	s := b.spec
	if h := s.Hooks; h != nil {
		for _, hk := range h.StartContainer {
			if hk.Timeout != nil && *hk.Timeout <= 0 {
				return nil, fmt.Errorf("%w: a startContainer hook's timeout %d (the Go init words its error)", errPlanFallback, *hk.Timeout)
			}
			for _, str := range append(append([]string{hk.Path}, hk.Args...), hk.Env...) {
				if strings.ContainsRune(str, 0) {
					return nil, fmt.Errorf("%w: NUL in %q", errPlanFallback, str)
				}
			}
		}
	}
	for _, str := range append(append(slices.Clone(s.Process.Args), s.Process.Env...), s.Hostname, s.Domainname, s.Process.Cwd, s.Process.ApparmorProfile, s.Process.SelinuxLabel) {
		if strings.ContainsRune(str, 0) {
			return nil, fmt.Errorf("%w: NUL in %q", errPlanFallback, str)
		}
	}
	b.add(planOp{code: opBegin, a: [6]int64{int64(initSyncFD(cfg.PreserveFDs))}})
	// The constructor's phases (nsexec.c), before any Go.
	b.add(planOp{code: opMark, a: [6]int64{0}, step: "config", detail: "the constructor reads its config, which the parent sends once it has moved the init into its cgroups"})
	b.add(planOp{code: opMark, a: [6]int64{1}, step: "unshare", detail: "the constructor makes the namespaces (one unshare(2); a user namespace first, its maps written by the parent)"})
	if !cfg.ParentPIDNS {
		b.add(planOp{code: opMark, a: [6]int64{2}, step: "fork", detail: "clone3 CLONE_PARENT into the new PID namespace: the init is its PID 1, the constructor's process exits"})
	}
	// Only a C run (nsenter/grun_shim.c) sends the plan apart: otherwise there is no such step.
	b.add(planOp{code: opMark, a: [6]int64{3}, step: "config", detail: "the constructor, its namespaces made, reads its plan, which the parent sends once the rootfs is mounted"})
	if err := b.rootfs(); err != nil {
		return nil, err
	}
	b.process()
	if err := b.finalizeProcess(); err != nil {
		return nil, err
	}
	return &b.plan, nil
}

func (b *planBuilder) mountAt(source string, srcSlot int, target string, tgtSlot int, shown, fstype string, flags uintptr, data string, ctx func(error) error) {
	srcShown := source
	if srcSlot != noSlot {
		srcShown = "/dev/null"
	}
	detail := fmt.Sprintf("%s on %s type %s flags %s", orNone(srcShown), shown, orNone(fstype), flagNames(flags))
	if data != "" {
		detail += " data " + data
	}
	b.add(planOp{code: opMount, step: "mount", detail: detail,
		a:    [6]int64{int64(flags), int64(srcSlot), int64(tgtSlot)},
		s:    [4]string{source, target, fstype, data},
		wrap: then(ctx, wrapf("mount %s on %s: %w", orNone(srcShown), shown))})
}

func (b *planBuilder) openInRoot(slot int, path string, file, strict bool, ctx func(error) error) {
	b.add(planOp{code: opOpenInRoot, a: [6]int64{int64(slot), slotRoot, boolInt(file), boolInt(strict)},
		s: [4]string{path, strings.TrimLeft(filepath.Clean(path), "/")}, wrap: ctx})
}

func (b *planBuilder) close(slot int) { b.add(planOp{code: opClose, a: [6]int64{int64(slot)}}) }

func boolInt(v bool) int64 {
	if v {
		return 1
	}
	return 0
}

// rootfs is setupRootfs: propagation, the rootfs as a mount point, the spec's mounts in
// order, devices, the createRuntime stop, pivot_root (or chroot).
func (b *planBuilder) rootfs() error {
	s, rootfs := b.spec, b.cfg.Rootfs
	prop := uintptr(unix.MS_REC | unix.MS_PRIVATE)
	if p, ok := propagationFlags[s.Linux.RootfsPropagation]; ok {
		prop = p
	}
	b.mountAt("", noSlot, "/", noSlot, "/", "", prop, "", wrapf("linux.rootfsPropagation: %w"))
	b.mountAt(rootfs, noSlot, rootfs, noSlot, rootfs, "", unix.MS_BIND|unix.MS_REC, "", wrapf("root.path: %w"))
	b.add(planOp{code: opOpen, a: [6]int64{slotRoot, unix.O_PATH | unix.O_DIRECTORY}, s: [4]string{rootfs}, wrap: wrapf("root.path: %w")})
	devTmpfs := false
	for i, m := range s.Mounts {
		if err := b.mount(i, m, wrapf("mounts[%d] (%s): %w", i, m.Destination)); err != nil {
			return err
		}
		if filepath.Clean(m.Destination) == "/dev" && m.Type == "tmpfs" {
			devTmpfs = true
		}
	}
	if devTmpfs {
		for _, d := range defaultDevicesFor(s.Linux.Devices) {
			mode := os.FileMode(0o666)
			d.FileMode = &mode
			if err := b.device(d, identity); err != nil {
				return err
			}
		}
		b.openInRoot(slotDev, "/dev", false, false, wrapf("/dev: %w"))
		for _, l := range [][2]string{{"/proc/self/fd", "/dev/fd"}, {"/proc/self/fd/0", "/dev/stdin"},
			{"/proc/self/fd/1", "/dev/stdout"}, {"/proc/self/fd/2", "/dev/stderr"}, {"pts/ptmx", "/dev/ptmx"}} {
			b.add(planOp{code: opSymlinkat, step: "symlink", detail: l[1] + " -> " + l[0], a: [6]int64{slotDev},
				s: [4]string{l[0], l[1][len("/dev/"):]}, wrap: wrapf("symlink %s: %w", l[1])})
		}
		b.close(slotDev)
	}
	for i, d := range s.Linux.Devices {
		if err := b.device(d, wrapf("linux.devices[%d]: %w", i)); err != nil {
			return err
		}
	}
	if b.cfg.CreateHooks {
		b.add(planOp{code: opHooks})
	}
	b.close(slotRoot)
	if b.cfg.NoPivot {
		b.add(planOp{code: opChroot, step: "chroot", detail: rootfs + " moved over / (no pivot_root)", s: [4]string{rootfs}, wrap: identity})
	} else {
		b.add(planOp{code: opPivotRoot, step: "pivot_root", detail: rootfs, s: [4]string{rootfs}, wrap: wrapf("pivot_root: %w")})
	}
	return nil
}

// mount is mountSpec: one of the spec's mounts, on its destination opened inside the rootfs.
func (b *planBuilder) mount(i int, m specs.Mount, ctx func(error) error) error {
	flags, propagation, data, err := parseMountOptions(m.Options)
	if err != nil {
		return fmt.Errorf("%w: %w", errPlanFallback, err)
	}
	bind := isBind(m)
	if m.Type == "bind" {
		flags |= unix.MS_BIND
	}
	// proc and sysfs must land on a real directory (CVE-2019-19921): no symlink on the way.
	strict := m.Type == "proc" || m.Type == "sysfs"
	file := false
	if bind {
		if fi, err := os.Stat(m.Source); err == nil && !fi.IsDir() {
			file = true
		}
	}
	dest := m.Destination
	b.openInRoot(slotTarget, dest, file, strict, ctx)
	switch {
	case m.Type == "cgroup":
		b.mountCgroup(m, flags, ctx)
	case bind:
		if fd, ok := b.cfg.IDMapFDs[i]; ok {
			b.add(planOp{code: opMoveMount, step: "mount", detail: m.Source + " on " + dest + " idmapped (move_mount of the parent's detached mount)",
				a: [6]int64{int64(fd), slotTarget}, wrap: then(ctx, wrapf("move_mount idmapped %s on %s: %w", m.Source, dest))})
		} else {
			b.mountAt(m.Source, noSlot, "", slotTarget, dest, "", unix.MS_BIND|(flags&unix.MS_REC), "", ctx)
		}
		// Bind mounts ignore every flag but MS_REC at first: a remount applies them, on the
		// new mount's root (the descriptor names the directory under it).
		if rest := flags &^ (unix.MS_BIND | unix.MS_REC | unix.MS_REMOUNT); rest != 0 {
			b.openInRoot(slotTop, dest, file, false, ctx)
			b.mountAt("", noSlot, "", slotTop, dest, "", unix.MS_BIND|unix.MS_REMOUNT|rest, "", ctx)
		}
	default:
		data = labeledMountData(m, data, b.spec.Linux.MountLabel)
		b.mountAt(m.Source, noSlot, "", slotTarget, dest, m.Type, flags&^unix.MS_REMOUNT, data, ctx)
	}
	for _, p := range propagation {
		b.openInRoot(slotTop, dest, file, false, ctx)
		b.mountAt("", noSlot, "", slotTop, dest, "", p, "", ctx)
	}
	b.close(slotTop)
	b.close(slotTarget)
	return nil
}

// mountCgroup is devices.go's mountCgroup: a fresh cgroup2 filesystem for a v2 host with a
// cgroup namespace of its own; otherwise bind mounts of the container's cgroup directories,
// remounted with the mount's flags.
func (b *planBuilder) mountCgroup(m specs.Mount, flags uintptr, ctx func(error) error) {
	ro := flags & unix.MS_RDONLY
	base := flags &^ (unix.MS_RDONLY | unix.MS_BIND | unix.MS_REC | unix.MS_REMOUNT)
	mounts := b.cfg.Cgroups
	if len(mounts) == 1 && mounts[0].Dir == "." {
		if b.cfg.NewNS["cgroup"] {
			b.mountAt(mounts[0].Type, noSlot, "", slotTarget, m.Destination, mounts[0].Type, base|ro, mounts[0].Options, ctx)
			return
		}
		b.mountAt(mounts[0].Host, noSlot, "", slotTarget, m.Destination, "", unix.MS_BIND, "", ctx)
		if base|ro != 0 {
			// slotTarget names the directory under the bind: its root, through the rootfs.
			b.openInRoot(slotTop, m.Destination, false, true, ctx)
			b.remountCgroupBind(slotTop, m.Destination, base|ro, ctx)
		}
		return
	}
	// One tmpfs to hold a directory per hierarchy; made read-only once they are in. Each is a
	// bind, with a cgroup namespace too (as runc mounts v1): a fresh cgroup v1 filesystem
	// first waits out every offline cgroup of the host (cgroup_lock_and_drain_offline), the
	// longest part of a container's mounts on a host of many cgroups, and a bind of the
	// container's directory shows the same tree, rooted where the namespace is.
	b.mountAt("tmpfs", noSlot, "", slotTarget, m.Destination, "tmpfs", base, "mode=755", ctx)
	b.openInRoot(slotTop, m.Destination, false, true, ctx)
	for _, cm := range mounts {
		b.add(planOp{code: opMkdirat, a: [6]int64{slotTop, 0o755}, s: [4]string{cm.Dir},
			wrap: then(ctx, wrapf("mkdir %s/%s: %w", m.Destination, cm.Dir))})
		b.add(planOp{code: opOpenat, a: [6]int64{slotSub, slotTop, unix.O_PATH | unix.O_NOFOLLOW | unix.O_DIRECTORY},
			s: [4]string{cm.Dir}, wrap: then(ctx, wrapf("open %s/%s: %w", m.Destination, cm.Dir))})
		b.mountAt(cm.Host, noSlot, "", slotSub, m.Destination+"/"+cm.Dir, "", unix.MS_BIND, "", ctx)
		b.close(slotSub)
		if base|ro != 0 {
			// slotSub named the directory under the bind: its root, through the tmpfs again.
			b.add(planOp{code: opOpenat, a: [6]int64{slotSub, slotTop, unix.O_PATH | unix.O_NOFOLLOW | unix.O_DIRECTORY},
				s: [4]string{cm.Dir}, wrap: then(ctx, wrapf("open %s/%s: %w", m.Destination, cm.Dir))})
			b.remountCgroupBind(slotSub, m.Destination+"/"+cm.Dir, base|ro, ctx)
			b.close(slotSub)
		}
	}
	if ro != 0 {
		b.mountAt("", noSlot, "", slotTop, m.Destination, "", unix.MS_REMOUNT|unix.MS_BIND|base|ro, "", ctx)
	}
}

// remountCgroupBind is devices.go's remountCgroupBind: the mount's flags on a bind of a
// cgroup directory (slot, its root), which took none of them.
func (b *planBuilder) remountCgroupBind(slot int, dest string, flags uintptr, ctx func(error) error) {
	b.mountAt("", noSlot, "", slot, dest, "", unix.MS_REMOUNT|unix.MS_BIND|flags, "", ctx)
}

// device is makeDevice: mknod, or in a user namespace (where mknod of a device is refused) a
// bind mount of the host's node of the same path, as runc does.
func (b *planBuilder) device(d specs.LinuxDevice, ctx func(error) error) error {
	var typ uint32
	switch d.Type {
	case "c", "u":
		typ = unix.S_IFCHR
	case "b":
		typ = unix.S_IFBLK
	case "p":
		typ = unix.S_IFIFO
	default:
		return fmt.Errorf("%w: device %s: unknown type %q", errPlanFallback, d.Path, d.Type)
	}
	mode := uint32(0o666)
	if d.FileMode != nil {
		mode = uint32(d.FileMode.Perm())
	}
	dir, name := splitPath(d.Path)
	inDevice := then(ctx, wrapf("device %s: %w", d.Path))
	b.openInRoot(slotTop, dir, false, false, inDevice)
	if b.cfg.NewNS["user"] || b.cfg.JoinedUserNS {
		// A node there already (a default device listed again) is not opened: that would
		// open the device itself.
		b.add(planOp{code: opCreateat, a: [6]int64{slotTop}, s: [4]string{name}, wrap: inDevice})
		b.add(planOp{code: opOpenat, a: [6]int64{slotSub, slotTop, unix.O_PATH | unix.O_NOFOLLOW}, s: [4]string{name}, wrap: inDevice})
		b.mountAt(d.Path, noSlot, "", slotSub, d.Path, "", unix.MS_BIND, "", ctx)
		b.close(slotSub)
	} else {
		uid, gid := int64(-1), int64(-1)
		if d.UID != nil {
			uid = int64(*d.UID)
		}
		if d.GID != nil {
			gid = int64(*d.GID)
		}
		b.add(planOp{code: opMknodat, step: "mknod", detail: fmt.Sprintf("%s %s %d:%d mode %o", d.Path, d.Type, d.Major, d.Minor, mode),
			a:    [6]int64{slotTop, int64(typ | mode), int64(unix.Mkdev(uint32(d.Major), uint32(d.Minor))), uid, gid},
			s:    [4]string{name},
			wrap: then(ctx, wrapf("mknod %s: %w", d.Path))})
	}
	b.close(slotTop)
	return nil
}

// process is the rest of setup up to the user switch: hostname, keyring, console, sysctls,
// read-only and masked paths, the read-only root, rlimits, cwd.
func (b *planBuilder) process() {
	s := b.spec
	if b.cfg.NewNS["uts"] {
		if s.Hostname != "" {
			b.add(planOp{code: opSethostname, step: "hostname", detail: s.Hostname, s: [4]string{s.Hostname}, wrap: identity})
		}
		if s.Domainname != "" {
			b.add(planOp{code: opSetdomainname, step: "domainname", detail: s.Domainname, s: [4]string{s.Domainname}, wrap: identity})
		}
	}
	if !b.cfg.NoNewKeyring {
		// A session keyring of its own (keyrings(7)); refused in some user namespaces, which
		// runc ignores.
		name := "_ses." + b.cfg.State.ID
		b.add(planOp{code: opKeyring, flags: opfIgnoreError, step: "keyring", detail: "join session keyring " + name, s: [4]string{name}})
	}
	if s.Process.Terminal {
		var rows, cols int64
		if cs := s.Process.ConsoleSize; cs != nil {
			rows, cols = int64(cs.Height), int64(cs.Width)
		}
		b.add(planOp{code: opConsole, step: "console", detail: "open /dev/ptmx, send master, slave is stdio and controlling tty",
			a: [6]int64{rows, cols}, wrap: wrapf("process.terminal: %w")})
	}
	names := make([]string, 0, len(s.Linux.Sysctl))
	for name := range s.Linux.Sysctl {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		p := "/proc/sys/" + strings.ReplaceAll(name, ".", "/")
		b.add(planOp{code: opWriteFile, step: "sysctl", detail: p + " = " + s.Linux.Sysctl[name],
			s: [4]string{p, s.Linux.Sysctl[name]}, wrap: wrapf("linux.sysctl: %w")})
	}
	for _, p := range s.Linux.ReadonlyPaths {
		b.add(planOp{code: opReadonly, step: "mount", detail: p + " on " + p + " type none flags bind,rec, then remount ro,nosuid,nodev,noexec",
			s: [4]string{p}, wrap: wrapf("linux.readonlyPaths: %w")})
	}
	if len(s.Linux.MaskedPaths) > 0 {
		b.add(planOp{code: opCheckNull, a: [6]int64{slotNull}, wrap: wrapf("linux.maskedPaths: /dev/null: %w")})
		for _, p := range s.Linux.MaskedPaths {
			b.add(planOp{code: opMask, step: "mount", detail: "tmpfs on " + p + " type tmpfs flags ro data size=0,mode=0555",
				fileDetail: "/dev/null on " + p + " type none flags bind",
				a:          [6]int64{slotNull}, s: [4]string{p}, wrap: wrapf("linux.maskedPaths: %w")})
		}
		b.close(slotNull)
	}
	if s.Root.Readonly {
		b.mountAt("", noSlot, "/", noSlot, "/", "", unix.MS_BIND|unix.MS_REMOUNT|unix.MS_RDONLY, "", wrapf("root.readonly: %w"))
	}
	for _, r := range s.Process.Rlimits {
		b.add(planOp{code: opRlimit, step: "rlimit", detail: fmt.Sprintf("%s soft %d hard %d", r.Type, r.Soft, r.Hard),
			a:    [6]int64{int64(rlimitNames[r.Type]), int64(r.Soft), int64(r.Hard)},
			wrap: wrapf("process.rlimits: prlimit %s: %w", r.Type)})
	}
	b.add(planOp{code: opChdir, step: "chdir", detail: s.Process.Cwd, s: [4]string{s.Process.Cwd}, wrap: wrapf("process.cwd: %w")})
}

// finalizeProcess is init.go's: seccomp (early without no_new_privs), bounding set, user,
// capabilities, no_new_privs, the program's lookup; then ready, and the exec after Start.
func (b *planBuilder) finalizeProcess() error {
	s, p := b.spec, b.spec.Process
	if p.ApparmorProfile != "" {
		b.add(planOp{code: opLSMExec, step: "apparmor", detail: "exec " + p.ApparmorProfile, a: [6]int64{lsm.AppArmor},
			s: [4]string{p.ApparmorProfile}, wrap: wrapf("process.apparmorProfile: %w")})
	}
	if p.SelinuxLabel != "" {
		b.add(planOp{code: opLSMExec, step: "selinux", detail: p.SelinuxLabel, a: [6]int64{lsm.SELinux},
			s: [4]string{p.SelinuxLabel}, wrap: wrapf("process.selinuxLabel: %w")})
	}
	if p.Scheduler != nil {
		attr, err := sched.Attr("process.scheduler", p.Scheduler)
		if err != nil {
			return err // checkSpec refused it already
		}
		b.add(planOp{code: opSched, step: "scheduler", detail: schedDetail(p.Scheduler), s: [4]string{string(sched.Bytes(attr))},
			wrap: wrapf("process.scheduler: %w")})
	}
	if p.IOPriority != nil {
		v, err := sched.IOPrio("process.ioPriority", p.IOPriority)
		if err != nil {
			return err
		}
		b.add(planOp{code: opIOPrio, step: "ioprio", detail: fmt.Sprintf("%s %d", p.IOPriority.Class, p.IOPriority.Priority),
			a: [6]int64{int64(v)}, wrap: wrapf("process.ioPriority: %w")})
	}
	var program []byte
	if s.Linux.Seccomp != nil {
		var err error
		if program, err = exportSeccomp(b.cfg.SeccompCache, s.Linux.Seccomp); err != nil {
			return fmt.Errorf("%w: %w", errPlanFallback, err)
		}
	}
	early := program != nil && !p.NoNewPrivileges
	if early {
		b.add(planOp{code: opSeccomp, step: "seccomp", detail: seccompDetail(s.Linux.Seccomp), s: [4]string{string(program)}, wrap: wrapf("linux.seccomp: %w")})
	}
	c := p.Capabilities
	if c == nil {
		c = &specs.LinuxCapabilities{}
	}
	b.add(planOp{code: opBounding, step: "capabilities", detail: "bounding " + capNames(c.Bounding), a: [6]int64{capMask(c.Bounding)}, wrap: identity})
	u := p.User
	umask := int64(-1)
	if u.Umask != nil {
		umask = int64(*u.Umask)
	}
	var groups []byte
	for _, g := range u.AdditionalGids {
		groups = append(groups, byte(g), byte(g>>8), byte(g>>16), byte(g>>24))
	}
	b.add(planOp{code: opUser, step: "user", detail: fmt.Sprintf("uid %d gid %d groups %v", u.UID, u.GID, u.AdditionalGids),
		a: [6]int64{int64(u.UID), int64(u.GID), boolInt(!b.cfg.NewNS["user"]), umask}, s: [4]string{string(groups)},
		wrap: wrapf("process.user: %w")})
	b.add(planOp{code: opCaps, step: "capabilities",
		detail: fmt.Sprintf("effective %s; permitted %s; inheritable %s; ambient %s", capNames(c.Effective), capNames(c.Permitted), capNames(c.Inheritable), capNames(c.Ambient)),
		a:      [6]int64{capMask(c.Effective), capMask(c.Permitted), capMask(c.Inheritable), capMask(c.Ambient)}, wrap: identity})
	if p.NoNewPrivileges {
		b.add(planOp{code: opNNP, step: "no_new_privs", detail: "prctl PR_SET_NO_NEW_PRIVS 1", wrap: identity})
	}
	search := defaultPath
	for _, e := range p.Env {
		if v, ok := strings.CutPrefix(e, "PATH="); ok {
			search = v
		}
	}
	b.add(planOp{code: opLookup, step: "lookup", detail: p.Args[0], s: [4]string{p.Args[0], search}, wrap: identity})
	// startContainer hooks run after Start, before the program (initc_hooks.c).
	if h := s.Hooks; h != nil {
		for _, hk := range h.StartContainer {
			var timeout int64
			if hk.Timeout != nil {
				timeout = int64(*hk.Timeout)
			}
			b.add(planOp{code: opStartHook, a: [6]int64{timeout}, s: [4]string{hk.Path, nulList(hk.Args), nulList(hk.Env)}})
			b.startHooks = true
		}
	}
	b.add(planOp{code: opReady})
	var late string
	if program != nil && !early {
		late = string(program)
	}
	var execFlags int64
	if b.cfg.Reaper {
		execFlags |= execReaper
	}
	b.add(planOp{code: opExec, a: [6]int64{int64(initFifoFD(b.cfg.PreserveFDs)), int64(b.cfg.PreserveFDs), execFlags},
		s: [4]string{nulList(p.Args), nulList(p.Env), late}})
	return nil
}

func capMask(names []string) int64 {
	var m uint64
	for _, c := range capList(names) {
		m |= 1 << uint(c)
	}
	return int64(m)
}
