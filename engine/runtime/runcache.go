package runtime

import (
	"cmp"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/glassbox/glassbox/engine/runtime/nsenter"
	"github.com/glassbox/glassbox/engine/trace"
	"github.com/glassbox/glassbox/internal/atomicfile"
	"github.com/glassbox/glassbox/internal/records"
)

// The run cache. Most of what `glassbox oci run` costs once the init is in C is the Go start
// of this 25 MB binary itself. After a Go create that `oci run` asked for (CreateOptions.
// RunCache), Create keeps here everything it did that depends on the bundle: the plan and
// the constructor's config bytes, each cgroup directory made and file written with its
// value, the cgroup.procs files joined, the fixed part of state.json and the trace wording.
// The next `oci run` of the same bundle (any ID: runcache_id.go) is done by nsenter/runc.c,
// in the constructor, before Go starts, if and only if the entry's key still holds: config.json,
// the rootfs directory and the glassbox binary are the same files unchanged (device, inode,
// size, mtime, ctime), the host is the same boot, the caller's cgroups and uid are the same.
// Anything else, or any failure before state.json is written, and runc.c undoes what it did
// and lets Go do the run, which writes the entry again.
//
// One entry per bundle path, named by its FNV-1a hash (runc.c computes the same), in a
// directory no container ID can name.
const runCacheDir = ".runcache"

// Record types of an entry, runc.c's RC_*: u32 type, u32 length, payload. Strings end in NUL.
const (
	rcVersion     = 1  // u32 runCacheVersion: first
	rcID          = 2  // "id\0"
	rcBundle      = 3  // "abs path\0"
	rcStat        = 4  // u32 what, u32 mode, i64 dev, ino, size, mtime_ns, ctime_ns, "path\0"
	rcFile        = 5  // "path\0" then the file's exact contents
	rcUID         = 6  // u32 uid
	rcCgroupMkdir = 7  // "dir\0trace fragment\0"
	rcCgroupWrite = 8  // "file\0value\0trace fragment\0"
	rcCgroupProcs = 9  // "cgroup.procs\0": the init joins these, in order
	rcCgroupLeaf  = 10 // "dir\0": removed (with any children) at the end
	rcNsenter     = 11 // the constructor's config bytes
	rcClone       = 12 // u32 clone flags of the init's fork (CLONE_NEWPID or 0), "trace fragment\0"
	rcOOMScoreAdj = 13 // i32, "trace fragment\0"
	rcState       = 14 // "state.json up to its variable fields\0"
	rcStep        = 15 // u32 op index, u32 flags (1: first mark), "fragment\0file variant\0"
	rcText        = 16 // u32 which, "fragment\0"
	rcTemplate    = 17 // instead of rcID: strings hold idMark where the run's ID goes
	rcPlan        = 18 // the plan (rcNsenter's config has none: runc.c adds it)
	rcPlanMarks   = 19 // whole templates: u32 op index, u32 string index of each plan string with marks
)

const runCacheVersion = 2

// rcStat's what: compare the whole identity, or only the file type (a bind mount's source,
// which decides whether the plan opens a file or a directory).
const (
	statIdentity = 0
	statType     = 1
)

// rcText's which.
const (
	textInitExecve = 1 // the init's execve up to the constructor
	textProgExec   = 2 // the program's execve, timed at Start
)

// runCacheKey is what a cached run depends on, taken before Create reads any of it.
type runCacheKey struct {
	bundle       string
	config, self unix.Stat_t
	procCgroup   []byte
	bootID       []byte
}

func takeRunCacheKey(bundle string) (*runCacheKey, error) {
	k := &runCacheKey{bundle: bundle}
	if err := unix.Stat(filepath.Join(bundle, "config.json"), &k.config); err != nil {
		return nil, err
	}
	if err := unix.Stat("/proc/self/exe", &k.self); err != nil {
		return nil, err
	}
	var err error
	if k.procCgroup, err = os.ReadFile("/proc/self/cgroup"); err != nil {
		return nil, err
	}
	if k.bootID, err = os.ReadFile("/proc/sys/kernel/random/boot_id"); err != nil {
		return nil, err
	}
	return k, nil
}

// runCacheRun is what Create did, as keepRunCache needs it.
type runCacheRun struct {
	id, rootfs  string
	spec        *specs.Spec
	plan        *plan
	nsenter     nsenter.Config
	cloneDetail string
	cloneFlags  uint32
	icfg        initConfig
	cgroupPaths map[string]string
	steps       []trace.Step
}

// plainRun reports whether opts ask for nothing but the bundle, this process's stdio and the
// trace: the only run runc.c does. Any other option (a console socket, a pid file, --no-pivot,
// one added later) may change what Create does, so its run is not kept.
func plainRun(opts CreateOptions) bool {
	plain := opts
	plain.Bundle, plain.IO, plain.Trace, plain.RunCache, plain.Template = "", IO{}, nil, false, false
	v := reflect.ValueOf(plain)
	for i := range v.NumField() {
		f := v.Field(i)
		// An empty slice or map asks for nothing, as nil does (ExtraFiles of no --preserve-fds).
		if !f.IsZero() && !((f.Kind() == reflect.Slice || f.Kind() == reflect.Map) && f.Len() == 0) {
			return false
		}
	}
	return true
}

// runCacheName is the entry's file name for a bundle path: runc.c's fnv1a64.
func runCacheName(bundle string) string {
	h := fnv.New64a()
	h.Write([]byte(bundle))
	return fmt.Sprintf("run-%016x", h.Sum64())
}

// keepRunCache writes the entry of a run, or says why it cannot be kept: what the entry
// cannot say (a terminal, hooks, a user namespace, a parent cgroup this run had to make)
// is left to Go every time.
func (r *Runtime) keepRunCache(k *runCacheKey, run runCacheRun) error {
	return r.keepEntry(k, run, "")
}

// keepEntry writes a run cache entry: the bundle's (name "") or, named name, a whole
// template (runcache_tmpl.go) whose strings hold marks wherever the container's ID was.
func (r *Runtime) keepEntry(k *runCacheKey, run runCacheRun, name string) error {
	s := run.spec
	switch {
	case run.plan == nil:
		return errors.New("the Go init runs this spec")
	case s.Process.Terminal:
		return errors.New("process.terminal")
	case s.Hooks != nil && hasHooks(s.Hooks):
		return errors.New("hooks")
	case run.nsenter.Unshare&unix.CLONE_NEWUSER != 0 || run.nsenter.Unshare&unix.CLONE_NEWTIME != 0:
		return errors.New("a new user or time namespace")
	}
	if why := beyondRunCache(s); why != "" {
		return errors.New(why)
	}
	var w records.Writer
	put := w.Put
	mark := func(s string) string { return s }
	if name != "" {
		mark = WholeMarker(run.id)
	}
	str := func(v ...string) []byte { return records.Strings(mark, v...) }
	u32 := records.U32
	for _, v := range []string{run.id, k.bundle, run.rootfs} {
		if strings.ContainsRune(v, 0) {
			return fmt.Errorf("NUL in %q", v)
		}
	}

	put(rcVersion, u32(runCacheVersion))
	var tmpl *idTemplate
	if name == "" {
		tmpl = templateOf(run)
	}
	id, pl, cgroupPaths := run.id, run.plan, run.cgroupPaths
	if name != "" {
		put(rcTemplate, u32(templateWhole))
	} else if tmpl != nil {
		id, pl, cgroupPaths = idMark, tmpl.plan, tmpl.paths
		put(rcTemplate, u32(1))
	} else {
		put(rcID, str(run.id))
	}
	put(rcBundle, str(k.bundle))
	putStat := func(what uint32, path string, st *unix.Stat_t) { put(rcStat, records.Stat(what, st), str(path)) }
	putStat(statIdentity, filepath.Join(k.bundle, "config.json"), &k.config)
	putStat(statIdentity, "/proc/self/exe", &k.self)
	var root unix.Stat_t
	if err := unix.Stat(run.rootfs, &root); err != nil {
		return err
	}
	putStat(statIdentity, run.rootfs, &root)
	for _, m := range s.Mounts {
		if isBind(m) {
			var st unix.Stat_t
			if err := unix.Stat(m.Source, &st); err != nil {
				return fmt.Errorf("bind source %s: %w", m.Source, err)
			}
			putStat(statType, m.Source, &st)
		}
	}
	put(rcFile, str("/proc/self/cgroup"), k.procCgroup)
	put(rcFile, str("/proc/sys/kernel/random/boot_id"), k.bootID)
	put(rcUID, u32(uint32(os.Getuid())))

	if err := putCgroupSteps(run, tmpl, put, str); err != nil {
		return err
	}
	for _, p := range run.nsenter.CgroupProcs {
		put(rcCgroupProcs, str(tmpl.path(p)))
	}
	for _, dir := range cgroupPaths {
		put(rcCgroupLeaf, str(dir))
	}
	ncfg := run.nsenter
	ncfg.Init = nil
	var places []uint32
	if name != "" {
		ncfg = markedConfig(ncfg, mark)
		if pl, places = markedPlan(pl, mark); pl == nil {
			return errors.New("a plan string holds both the ID and a mark byte")
		}
	}
	cfg, err := nsenter.EncodeConfig(ncfg)
	if err != nil {
		return err
	}
	put(rcNsenter, cfg)
	put(rcPlan, pl.encode())
	if name != "" {
		var p []byte
		for _, v := range places {
			p = binary.NativeEndian.AppendUint32(p, v)
		}
		put(rcPlanMarks, p)
	}
	put(rcClone, u32(run.cloneFlags), str(fragment("clone", run.cloneDetail)))
	if adj := s.Process.OOMScoreAdj; adj != nil {
		put(rcOOMScoreAdj, u32(uint32(int32(*adj))), str(fragment("oom_score_adj", fmt.Sprintf("/proc/PID/oom_score_adj = %d", *adj))))
	}
	fixed, err := json.Marshal(struct {
		ID          string            `json:"id"`
		Bundle      string            `json:"bundle"`
		Rootfs      string            `json:"rootfs"`
		CgroupPaths map[string]string `json:"cgroup_paths,omitempty"`
		Annotations map[string]string `json:"annotations,omitempty"`
		OwnerUID    int               `json:"owner_uid"`
		InitC       bool              `json:"init_c"`
	}{id, k.bundle, run.rootfs, cgroupPaths, s.Annotations, os.Getuid(), true})
	if err != nil {
		return err
	}
	put(rcState, str(string(markJSON(fixed[:len(fixed)-1]))+","))
	for i, o := range pl.ops {
		if o.flags&opfTrace == 0 {
			continue
		}
		var flags uint32
		if o.code == opMark && o.a[0] == 0 {
			flags = 1
		}
		file := ""
		if o.fileDetail != "" {
			file = fragment(o.step, o.fileDetail)
		}
		put(rcStep, u32(uint32(i)), u32(flags), str(fragment(o.step, o.detail), file))
	}
	put(rcText, u32(textInitExecve), str(fragment("execve", "the init: fork, execve of glassbox runtime-init from the read-only binary, the dynamic loader, up to the C constructor")))
	put(rcText, u32(textProgExec), str(fragment("execve", "close_range CLOEXEC from 3, seccomp (with no_new_privs), execve "+
		"of the program: timed from the fifo read to the close of the init's end at exec")))

	if name == "" {
		name = runCacheName(k.bundle)
	} else if err := checkWhollyMarked(w.Bytes(), run.id); err != nil {
		return err
	}
	dir := filepath.Join(r.stateDir, runCacheDir)
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
		return err
	}
	if err := atomicfile.WriteFile(filepath.Join(dir, name), w.Bytes(), 0o600, atomicfile.Atomic); err != nil {
		return err
	}
	trimRunCache(dir, maxRunCacheEntries)
	return nil
}

// maxRunCacheEntries bounds the cache: one entry per bundle path ever run, so a machine
// running many short-lived bundles keeps only the latest.
const maxRunCacheEntries = 128

// TrimCache bounds a cache directory of entries (the runtime's, the engine's run templates)
// to the newest 128.
func TrimCache(dir string) { trimRunCache(dir, maxRunCacheEntries) }

// trimRunCache removes the least recently written entries beyond max.
func trimRunCache(dir string, max int) {
	entries, err := os.ReadDir(dir)
	if err != nil || len(entries) <= max {
		return
	}
	type entry struct {
		name string
		mod  int64
	}
	var all []entry
	for _, e := range entries {
		if info, err := e.Info(); err == nil && (strings.HasPrefix(e.Name(), "run-") || strings.HasPrefix(e.Name(), "tmpl-") || strings.HasPrefix(e.Name(), "grun-")) {
			all = append(all, entry{e.Name(), info.ModTime().UnixNano()})
		}
	}
	slices.SortFunc(all, func(a, b entry) int { return cmp.Compare(b.mod, a.mod) })
	for _, e := range all[min(max, len(all)):] {
		os.Remove(filepath.Join(dir, e.name))
	}
}

// beyondRunCache names a spec feature whose handling may need the parent's work beyond what
// an entry holds (idmapped mounts, scheduling, devices moved into the network namespace...):
// such a spec is left to Go every time, whatever this binary does with it. A feature that
// Create handles in the parent must be kept in the entry and done by runc.c, or named here.
func beyondRunCache(s *specs.Spec) string {
	for i, m := range s.Mounts {
		if len(m.UIDMappings)+len(m.GIDMappings) > 0 {
			return fmt.Sprintf("mounts[%d]: id mappings", i)
		}
		for _, o := range m.Options {
			if o == "idmap" || o == "ridmap" {
				return fmt.Sprintf("mounts[%d]: %s", i, o)
			}
		}
	}
	p, l := s.Process, s.Linux
	for _, ns := range l.Namespaces {
		if ns.Type == specs.UserNamespace {
			return "a user namespace" // new or joined: its maps and credentials are Go's
		}
	}
	switch {
	case p.Scheduler != nil || p.IOPriority != nil || p.ExecCPUAffinity != nil:
		return "process.scheduler, ioPriority or execCPUAffinity"
	case len(l.NetDevices) > 0 || l.IntelRdt != nil || l.MemoryPolicy != nil || l.Personality != nil:
		return "linux.netDevices, intelRdt, memoryPolicy or personality"
	case l.Resources != nil && len(l.Resources.Unified) > 0:
		return "linux.resources.unified"
	}
	return ""
}

// putCgroupSteps keeps the cgroup directories made and files written, in order, from the
// trace cgroups.Create recorded: exactly what it did. A run that made or configured a parent
// (the first in a fresh glassbox parent) or attached a device program is not kept: the next
// run's work is then not the same.
func putCgroupSteps(run runCacheRun, tmpl *idTemplate, put func(uint32, ...[]byte), str func(...string) []byte) error {
	leaf := map[string]bool{}
	for _, dir := range run.cgroupPaths {
		leaf[dir] = true
	}
	for _, st := range run.steps {
		if st.Step != "cgroup" {
			continue
		}
		if st.Err != "" {
			return errors.New("a cgroup step failed")
		}
		if dir, ok := strings.CutPrefix(st.Detail, "mkdir "); ok && leaf[dir] {
			put(rcCgroupMkdir, str(tmpl.path(dir), fragment(st.Step, "mkdir "+tmpl.path(dir))))
			continue
		}
		rest, ok := strings.CutPrefix(st.Detail, "write ")
		// cgroups' write: "write PATH " + strconv.Quote(value); a quote inside the value is
		// escaped, so the last ` "` opens it.
		i := strings.LastIndex(rest, ` "`)
		if !ok || i < 0 {
			return fmt.Errorf("cgroup step %q", st.Detail)
		}
		file := rest[:i]
		value, err := strconv.Unquote(rest[i+1:])
		if err != nil || !leaf[filepath.Dir(file)] || strings.ContainsRune(value, 0) {
			return fmt.Errorf("cgroup step %q", st.Detail)
		}
		put(rcCgroupWrite, str(tmpl.path(file), value, fragment(st.Step, "write "+tmpl.path(file)+rest[i:])))
	}
	return nil
}

// fragment is a trace step's JSON up to its timings, which runc.c appends.
func fragment(step, detail string) string {
	b, _ := json.Marshal(struct {
		Step   string `json:"step"`
		Detail string `json:"detail"`
	}{step, detail})
	return string(markJSON(b[:len(b)-1]))
}
