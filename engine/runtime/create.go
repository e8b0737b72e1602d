package runtime

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/glassbox/glassbox/engine/cgroups"
	"github.com/glassbox/glassbox/engine/runtime/nsenter"
	"github.com/glassbox/glassbox/engine/trace"
	"github.com/glassbox/glassbox/internal/atomicfile"
	"github.com/glassbox/glassbox/internal/fault"
)

// Create does what `runc create` does: the init process (glassbox re-executed, a child of the
// caller) gets its namespaces, uid/gid maps, cgroups, rootfs, mounts, pivot_root and all
// process settings, then blocks before execve of the user's program until Start. Nothing is
// left behind when it fails: no state, cgroup, mount or process.
func (r *Runtime) Create(ctx context.Context, id string, opts CreateOptions) (_ *Container, err error) {
	rec := opts.Trace
	if rec == nil {
		rec = trace.New(time.Now())
	}
	if err := checkID(id); err != nil {
		return nil, err
	}
	bundle, err := filepath.Abs(opts.Bundle)
	if err != nil {
		return nil, fmt.Errorf("bundle: %w", err)
	}
	var cacheKey *runCacheKey
	if opts.RunCache || opts.Template {
		// Before config.json is read: a change from here on makes the entry stale.
		if cacheKey, err = takeRunCacheKey(bundle); err != nil {
			r.log.Debug("run cache: no key", "err", err)
		}
	}
	spec, rootfs, err := loadSpec(bundle)
	if err != nil {
		return nil, err
	}
	if spec.Hooks != nil && runHooks == nil && hasHooks(spec.Hooks) {
		return nil, errors.New("hooks: not supported by this build")
	}
	if spec.Linux.Seccomp != nil && applySeccomp == nil {
		return nil, errors.New("linux.seccomp: not supported by this build")
	}
	if wantsReaper(spec) && initMode() == "go" {
		return nil, fmt.Errorf("--init (annotation %s=%s): the reaper is part of the C init, and GLASSBOX_INIT=go asks for the Go init", InitAnnotation, InitReaper)
	}
	dir := r.dir(id)
	if err := os.Mkdir(dir, 0o700); err != nil {
		if errors.Is(err, os.ErrExist) {
			return nil, fmt.Errorf("container %s: %w", id, ErrExists)
		}
		return nil, fmt.Errorf("make state directory: %w", err)
	}
	var undo []func()
	defer func() {
		if err != nil {
			for i := len(undo) - 1; i >= 0; i-- {
				undo[i]()
			}
			os.RemoveAll(dir)
		}
	}()

	cgPath := spec.Linux.CgroupsPath
	if cgPath == "" {
		cgPath = id
	}
	cg, err := cgroups.New(cgroups.Config{Path: cgPath, Resources: withDeviceRules(spec), Trace: rec})
	if err != nil {
		return nil, fmt.Errorf("linux.cgroupsPath: %w", err)
	}
	// The state names the cgroups before they exist, and says so once they do: a caller
	// killed between their mkdir and the state's final save (below) leaves a state Delete
	// undoes, not cgroups nothing names; one killed before the mkdirs leaves a state whose
	// paths Delete leaves alone (they may be another's, see record.CgroupsMade). Killed
	// between the mkdirs and the second save, it leaves empty cgroups (the init has not
	// joined them), which engine gc sweeps.
	early := &record{ID: id, Bundle: bundle, Rootfs: rootfs, Created: time.Now(),
		CgroupPaths: cg.Paths(), OwnerUID: os.Getuid()}
	if err := r.save(early); err != nil {
		return nil, err
	}
	fault.Crash("runtime-create:saved") // the state names cgroups not made yet
	// The cgroup is made once the init has started (cmd.Prepare below), while it executes.
	makeCgroup := func() error {
		if err := cg.Create(); err != nil {
			return fmt.Errorf("linux.resources: %w", err)
		}
		undo = append(undo, func() {
			cg.Kill()
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			cg.WaitEmpty(ctx)
			cancel()
			cg.Destroy()
		})
		early.CgroupsMade = true
		return r.save(early)
	}

	fifoPath := filepath.Join(dir, fifoFile)
	// 0622 and owned by the container's root, as runc makes it: the init reopens it after
	// switching to the container's user, possibly in a user namespace.
	if err := unix.Mkfifo(fifoPath, 0o622); err != nil {
		return nil, fmt.Errorf("make exec fifo: %w", err)
	}
	if err := os.Chmod(fifoPath, 0o622); err != nil { // mkfifo honours the umask
		return nil, fmt.Errorf("exec fifo: %w", err)
	}
	if err := os.Chown(fifoPath, hostID(spec.Linux.UIDMappings, 0), hostID(spec.Linux.GIDMappings, 0)); err != nil {
		return nil, fmt.Errorf("exec fifo: %w", err)
	}
	fifo, err := os.OpenFile(fifoPath, unix.O_PATH|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open exec fifo: %w", err)
	}
	defer fifo.Close()

	done := rec.Begin("binary", "")
	exe, how, err := sealedSelf()
	done(err)
	if err != nil {
		return nil, err
	}
	defer exe.Close()
	rec.Record("binary", "init runs glassbox from a "+how, time.Now(), nil)
	exePath := "/proc/self/fd/" + strconv.Itoa(int(exe.Fd()))
	idFiles, idIndex, err := idmappedMounts(spec, exePath, rec)
	if err != nil {
		return nil, err
	}
	defer func() {
		for _, f := range idFiles {
			f.Close()
		}
	}()

	pair, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("socketpair: %w", err)
	}
	parentSock, childSock := os.NewFile(uintptr(pair[0]), "init sync"), os.NewFile(uintptr(pair[1]), "init sync")
	defer parentSock.Close()
	defer childSock.Close()

	cfg, nsDetail, newNS := nsConfig(spec)
	// A new PID namespace owned by the caller's user namespace can come with the clone that
	// starts the init, which is then its PID 1 without the constructor's fork. Not with a new
	// or joined user namespace (which must own the PID namespace, or proc cannot be mounted
	// in it) nor
	// a time namespace (which, like the PID one, only the constructor's children enter).
	parentPIDNS := newNS["pid"] && !newNS["user"] && joinedUserNS(spec) == "" && !newNS["time"]
	if parentPIDNS {
		cfg.Unshare &^= unix.CLONE_NEWPID
	}
	for _, p := range cg.Paths() {
		cfg.CgroupProcs = append(cfg.CgroupProcs, filepath.Join(p, "cgroup.procs"))
	}
	sort.Strings(cfg.CgroupProcs)
	cfg.CallerJoinsCgroups = true
	st := specs.State{Version: specs.Version, ID: id, Status: StatusCreating, Bundle: bundle, Annotations: spec.Annotations}
	icfg := initConfig{Spec: spec, Rootfs: rootfs, NoPivot: opts.NoPivot, NoNewKeyring: opts.NoNewKeyring,
		Origin: rec.Origin().UnixNano(), NewNS: newNS, CreateHooks: spec.Hooks != nil && hasHooks(spec.Hooks),
		Cgroups: cgroupMounts(cg.Paths()), State: st, ParentPIDNS: parentPIDNS,
		SeccompCache: filepath.Join(r.stateDir, seccompCacheDir), PreserveFDs: len(opts.ExtraFiles),
		JoinedUserNS: joinedUserNS(spec) != "", Reaper: wantsReaper(spec)}
	// The idmapped mounts follow the exec fifo.
	for i, n := range idIndex {
		if icfg.IDMapFDs == nil {
			icfg.IDMapFDs = map[int]int{}
		}
		icfg.IDMapFDs[i] = initFifoFD(len(opts.ExtraFiles)) + 1 + n
	}
	// The init in C unless the plan cannot say the spec (or GLASSBOX_INIT=go): see plan.go.
	var pl *plan
	if initMode() == "c" {
		pl, err = buildPlan(icfg)
		if err == nil {
			cfg.Init = pl.encode()
			detail := fmt.Sprintf("C init (nsenter/initc.c): a plan of %d operations, %d bytes", len(pl.ops), len(cfg.Init))
			if icfg.Reaper {
				detail += "; --init: the init forks the program at exec and stays PID 1 (glassbox-init)"
			}
			rec.Record("init", detail, time.Now(), nil)
		} else if !errors.Is(err, errPlanFallback) {
			return nil, err
		}
	}
	if pl == nil {
		why := "GLASSBOX_INIT=go"
		if err != nil {
			why = err.Error()
		}
		if icfg.Reaper {
			// Said, not ignored: without the reaper the program would be PID 1 unseen.
			return nil, fmt.Errorf("--init (annotation %s=%s): the reaper is part of the C init, and this container needs the Go init (%s)", InitAnnotation, InitReaper, why)
		}
		rec.Record("init", "Go init (runtime-init): "+why, time.Now(), nil)
	}
	cmd := nsenter.Command(cfg, InitEntry, strconv.Itoa(len(opts.ExtraFiles)))
	cmd.Path, cmd.Sealed = exePath, true
	if icfg.ParentPIDNS {
		cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: unix.CLONE_NEWPID}
	}
	cmd.Env = []string{}
	if opts.IO.Stdin != nil {
		cmd.Stdin = opts.IO.Stdin
	}
	if opts.IO.Stdout != nil {
		cmd.Stdout = opts.IO.Stdout
	}
	if opts.IO.Stderr != nil {
		cmd.Stderr = opts.IO.Stderr
	}
	cmd.ExtraFiles = append(append(append([]*os.File{}, opts.ExtraFiles...), childSock, fifo), idFiles...)
	var prepareErr error
	cmd.Prepare = func() error {
		prepareErr = makeCgroup()
		return prepareErr
	}
	began := time.Now()
	err = cmd.Start()
	rec.Record("clone", nsDetail, began, err)
	if j := cmd.CgroupsJoined; !j[0].IsZero() {
		rec.Add(trace.Step{Step: "join", Detail: fmt.Sprintf("write the init's PID to %d cgroup.procs files (while its loader runs)", len(cfg.CgroupProcs)),
			Start: j[0].Sub(rec.Origin()), Duration: j[1].Sub(j[0]), Pid: os.Getpid()})
	}
	if prepareErr != nil {
		return nil, prepareErr
	}
	if err != nil {
		return nil, fmt.Errorf("init: %w", err)
	}
	childSock.Close()
	pid := cmd.Process.Pid
	undo = append(undo, func() {
		cmd.Process.Kill()
		cmd.Process.Wait()
	})
	for _, m := range []struct {
		file string
		maps []specs.LinuxIDMapping
	}{{"uid_map", spec.Linux.UIDMappings}, {"gid_map", spec.Linux.GIDMappings}} {
		if len(m.maps) > 0 && newNS["user"] {
			rec.Record(m.file, fmt.Sprintf("/proc/%d/%s: %s (written by the parent during clone)", pid, m.file, mapString(m.maps)), began, nil)
		}
	}
	if adj := spec.Process.OOMScoreAdj; adj != nil {
		p := fmt.Sprintf("/proc/%d/oom_score_adj", pid)
		done := rec.Begin("oom_score_adj", p+" = "+strconv.Itoa(*adj))
		err := os.WriteFile(p, []byte(strconv.Itoa(*adj)), 0)
		done(err)
		if err != nil {
			return nil, fmt.Errorf("process.oomScoreAdj: %w", err)
		}
	}

	st.Pid = pid
	icfg.State = st
	c := &Container{ID: id, Bundle: bundle, Pid: pid, Process: cmd.Process, CgroupPaths: cg.Paths()}
	if pl != nil {
		pl.cloneBegan = began
		err = r.conversePlan(ctx, parentSock, pl, spec, st, opts, c, rec)
	} else if err = sendMessage(int(parentSock.Fd()), icfg, nil); err != nil {
		err = fmt.Errorf("send config to init: %w", err)
	} else {
		err = r.converse(ctx, parentSock, spec, st, opts, c, rec)
	}
	if err != nil {
		if c.Console != nil {
			c.Console.Close()
		}
		return nil, err
	}

	fault.Crash("runtime-create:cgroup") // the cgroups made and the init in them, not saved
	start, _, err := procStart(pid)
	if err != nil {
		return nil, fmt.Errorf("init pid %d: %w", pid, err)
	}
	c.Created = time.Now()
	record := &record{ID: id, Bundle: bundle, Rootfs: rootfs, Pid: pid, PidStart: start, Created: c.Created,
		CgroupPaths: c.CgroupPaths, CgroupsMade: true, Annotations: spec.Annotations, Hooks: spec.Hooks, OwnerUID: os.Getuid(),
		TraceOrigin: rec.Origin(), InitC: pl != nil}
	if err := r.save(record); err != nil {
		return nil, err
	}
	if opts.PidFile != "" {
		if err := atomicfile.WriteFile(opts.PidFile, []byte(strconv.Itoa(pid)), 0o644, atomicfile.Atomic); err != nil {
			return nil, fmt.Errorf("write pid file: %w", err)
		}
	}
	if err := trace.WriteFile(filepath.Join(dir, traceFile), rec.Steps()); err != nil {
		return nil, err
	}
	if cacheKey != nil && plainRun(opts) {
		run := runCacheRun{id: id, rootfs: rootfs, spec: spec, plan: pl, nsenter: cfg, cloneDetail: nsDetail,
			cgroupPaths: c.CgroupPaths, steps: rec.Steps(), icfg: icfg}
		if icfg.ParentPIDNS {
			run.cloneFlags = unix.CLONE_NEWPID
		}
		keep := r.keepRunCache
		if opts.Template {
			keep = r.keepTemplate
		}
		if err := keep(cacheKey, run); err != nil {
			r.log.Debug("run cache: not kept", "id", id, "why", err)
		}
	}
	return c, nil
}

func hasHooks(h *specs.Hooks) bool {
	return len(h.Prestart)+len(h.CreateRuntime)+len(h.CreateContainer)+len(h.StartContainer)+len(h.Poststart)+len(h.Poststop) > 0
}

// nsConfig turns the spec's namespaces into nsenter's: a path joins, none creates.
func nsConfig(spec *specs.Spec) (nsenter.Config, string, map[string]bool) {
	var cfg nsenter.Config
	newNS := map[string]bool{}
	var parts []string
	for _, ns := range spec.Linux.Namespaces {
		t, _ := nsenter.SpecType(ns.Type)
		if ns.Path != "" {
			cfg.Join = append(cfg.Join, nsenter.Namespace{Type: t, Path: ns.Path})
			parts = append(parts, "setns "+t+" "+ns.Path)
			continue
		}
		flag, _ := nsenter.CloneFlag(t)
		cfg.Unshare |= flag
		newNS[t] = true
	}
	var flags []string
	for _, t := range nsenter.Types {
		if newNS[t] {
			name := strings.ToUpper(t)
			if t == "mnt" {
				name = "NS" // the mount namespace's flag predates the others
			}
			flags = append(flags, "CLONE_NEW"+name)
		}
	}
	detail := strings.Join(flags, "|")
	if newNS["user"] {
		cfg.UIDMappings = idMaps(spec.Linux.UIDMappings)
		cfg.GIDMappings = idMaps(spec.Linux.GIDMappings)
	}
	if newNS["time"] && len(spec.Linux.TimeOffsets) > 0 {
		var b strings.Builder
		for clock, off := range spec.Linux.TimeOffsets {
			fmt.Fprintf(&b, "%s %d %d\n", clock, off.Secs, off.Nanosecs)
		}
		cfg.TimeOffsets = b.String()
	}
	if len(parts) > 0 {
		detail = strings.TrimPrefix(detail+"; "+strings.Join(parts, "; "), "; ")
	}
	return cfg, detail, newNS
}

func mapString(m []specs.LinuxIDMapping) string {
	var parts []string
	for _, e := range m {
		parts = append(parts, fmt.Sprintf("%d %d %d", e.ContainerID, e.HostID, e.Size))
	}
	return strings.Join(parts, ", ")
}

// cgroupMounts says how the container's cgroup hierarchies appear under a cgroup mount:
// one directory per v1 hierarchy (named as on the host) and cgroup2 at "unified" on a hybrid
// machine, or cgroup2 as the mount itself on a unified one.
func cgroupMounts(paths map[string]string) []cgroupMount {
	var out []cgroupMount
	for key, p := range paths {
		rel := strings.TrimPrefix(p, cgroups.DefaultRoot+"/")
		name, _, _ := strings.Cut(rel, "/")
		m := cgroupMount{Dir: name, Type: "cgroup", Options: key, Host: p}
		if key == "unified" {
			m.Type, m.Options = "cgroup2", ""
			if len(paths) == 1 {
				m.Dir = "."
			}
		}
		out = append(out, m)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Dir < out[j].Dir })
	return out
}

// withDeviceRules returns the spec's resources with the device rules runc adds after the
// spec's own (libcontainer/specconv AllowedDevices): the default devices, the spec's
// linux.devices, ptys and the console are always usable, whatever else the policy denies.
func withDeviceRules(spec *specs.Spec) *specs.LinuxResources {
	var res specs.LinuxResources
	if spec.Linux.Resources != nil {
		res = *spec.Linux.Resources
	}
	if len(res.Devices) == 0 {
		return &res
	}
	rule := func(typ string, major, minor int64, access string) specs.LinuxDeviceCgroup {
		return specs.LinuxDeviceCgroup{Allow: true, Type: typ, Major: &major, Minor: &minor, Access: access}
	}
	rules := append([]specs.LinuxDeviceCgroup(nil), res.Devices...)
	for _, d := range defaultDevices {
		rules = append(rules, rule("c", d.Major, d.Minor, "rwm"))
	}
	for _, d := range spec.Linux.Devices {
		typ := d.Type
		if typ == "u" {
			typ = "c"
		}
		if typ != "p" {
			rules = append(rules, rule(typ, d.Major, d.Minor, "rwm"))
		}
	}
	rules = append(rules, rule("c", 5, 1, "rwm"), rule("c", 5, 2, "rwm"), rule("c", 136, -1, "rwm"))
	res.Devices = rules
	return &res
}

// hostID maps a container ID to the host's through mappings (none: the same).
func hostID(mappings []specs.LinuxIDMapping, id uint32) int {
	if len(mappings) == 0 {
		return int(id)
	}
	for _, m := range mappings {
		if id >= m.ContainerID && id < m.ContainerID+m.Size {
			return int(m.HostID + id - m.ContainerID)
		}
	}
	return -1
}
