package cgroups

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/glassbox/glassbox/engine/trace"
)

// ParentName is the cgroup every container's cgroup nests in, inside glassbox's own cgroup.
const ParentName = "glassbox"

// Cgroup is one container's cgroup, across every hierarchy it spans. It is not safe for
// concurrent use; the runtime holds the container's lock around it.
type Cgroup struct {
	// paths maps hierarchy keys to the container's cgroup directory.
	paths map[string]string
	// hier describes each hierarchy by key (controllers, mount point).
	hier map[string]hierarchy
	cfg  Config
	// owned are the directories Create made, parents before children; Destroy removes these
	// and nothing else. managed adds the existing glassbox parents, which glassbox made in an
	// earlier run and may configure (cpuset copy-down, subtree_control).
	owned   []string
	managed map[string]bool
	// mkdir makes one cgroup directory and rmdir removes one; tests replace them with a fake
	// kernel that fills a new directory with a recorded cgroup's files and empties it again.
	mkdir func(dir string) error
	rmdir func(dir string) error
}

// New resolves where cfg's cgroup goes in each hierarchy. It creates nothing. A systemd-style
// Path ("machine.slice:libpod:ID") is taken as the absolute path systemd would use
// (/machine.slice/libpod-ID.scope).
func New(cfg Config) (*Cgroup, error) {
	if cfg.Root == "" {
		cfg.Root = DefaultRoot
	}
	if cfg.MountInfo == "" {
		cfg.MountInfo = "/proc/self/mountinfo"
	}
	if cfg.ProcCgroup == "" {
		cfg.ProcCgroup = "/proc/self/cgroup"
	}
	if cfg.Path == "" {
		return nil, errors.New("cgroup path is empty")
	}
	if p, ok, err := systemdPath(cfg.Path); err != nil {
		return nil, err
	} else if ok {
		cfg.Path = p
	}
	clean := path.Clean(cfg.Path)
	if clean == "/" || strings.HasPrefix(clean, "../") || clean == ".." || clean == "." {
		return nil, fmt.Errorf("cgroup path %q: must name a cgroup below the parent", cfg.Path)
	}
	m, err := readMounts(cfg.MountInfo, cfg.Root)
	if err != nil {
		return nil, err
	}
	own, err := ownCgroups(cfg.ProcCgroup)
	if err != nil {
		return nil, err
	}
	c := &Cgroup{paths: map[string]string{}, hier: map[string]hierarchy{}, cfg: cfg,
		managed: map[string]bool{}, mkdir: kernelMkdir, rmdir: kernelRmdir}
	for _, h := range m.hierarchies {
		dir := filepath.Join(h.mountPoint, clean)
		if !path.IsAbs(clean) {
			p, ok := own[h.key]
			if !ok {
				p = "/"
			}
			parent := filepath.Join(h.dirOf(p), ParentName)
			c.managed[parent] = true
			dir = filepath.Join(parent, clean)
		}
		c.paths[h.key] = dir
		c.hier[h.key] = h
	}
	return c, nil
}

// Load reattaches to a cgroup created earlier, from the paths Paths returned then. The caller
// vouches that Create made them: Destroy will remove them. Every path must be a directory on
// a cgroup filesystem (or gone already), so a damaged record cannot aim Destroy elsewhere.
func Load(paths map[string]string) (*Cgroup, error) {
	for key, dir := range paths {
		if _, err := os.Stat(dir); err == nil && !isCgroupFS(dir) {
			return nil, fmt.Errorf("load cgroup: %s path %s is not on a cgroup filesystem", key, dir)
		}
	}
	return load(paths)
}

func load(paths map[string]string) (*Cgroup, error) {
	if len(paths) == 0 {
		return nil, errors.New("load cgroup: no paths")
	}
	c := &Cgroup{paths: map[string]string{}, hier: map[string]hierarchy{}, managed: map[string]bool{},
		mkdir: kernelMkdir, rmdir: kernelRmdir}
	for key, dir := range paths {
		if !filepath.IsAbs(dir) {
			return nil, fmt.Errorf("load cgroup: %s path %q is not absolute", key, dir)
		}
		c.paths[key] = dir
		h := hierarchy{key: key}
		if key != unifiedKey {
			h.controllers = strings.Split(key, ",")
		}
		c.hier[key] = h
		c.owned = append(c.owned, dir)
	}
	sort.Strings(c.owned)
	return c, nil
}

// Mode is the layout of the hierarchies c spans: Unified when it is in the cgroup2 hierarchy
// alone, Legacy when in v1 hierarchies alone, Hybrid when in both.
func (c *Cgroup) Mode() Mode {
	_, v2 := c.paths[unifiedKey]
	switch {
	case v2 && len(c.paths) == 1:
		return Unified
	case v2:
		return Hybrid
	}
	return Legacy
}

// SetTrace makes c record the files it writes into rec (a loaded cgroup has no Config).
func (c *Cgroup) SetTrace(rec *trace.Recorder) { c.cfg.Trace = rec }

// Create makes the cgroup's directories (and the glassbox parent where missing) and applies
// the resources and device policy. If any step fails, it removes what it made.
func (c *Cgroup) Create() error {
	if err := c.create(); err != nil {
		if derr := c.Destroy(); derr != nil {
			return fmt.Errorf("%w (and cleaning up: %v)", err, derr)
		}
		return err
	}
	return nil
}

func (c *Cgroup) create() error {
	for _, key := range c.keys() {
		err := c.makeDirs(c.hier[key], c.paths[key])
		if errors.Is(err, os.ErrNotExist) {
			// Another glassbox removed an empty parent between our mkdirs (Destroy takes
			// a parent away once it has no children): make it again, once.
			err = c.makeDirs(c.hier[key], c.paths[key])
		}
		if err != nil {
			return err
		}
	}
	return c.apply(c.cfg.Resources)
}

// makeDirs makes leaf and the missing directories above it inside hierarchy h. The leaf must
// be new: glassbox never takes over a cgroup it did not create.
func (c *Cgroup) makeDirs(h hierarchy, leaf string) error {
	rel, err := filepath.Rel(h.mountPoint, leaf)
	if err != nil || strings.HasPrefix(rel, "..") {
		return fmt.Errorf("cgroup %s is outside hierarchy %s", leaf, h.mountPoint)
	}
	dir := h.mountPoint
	for _, name := range strings.Split(rel, string(filepath.Separator)) {
		parent := dir
		dir = filepath.Join(dir, name)
		var err error
		if _, serr := os.Stat(dir); serr == nil {
			err = os.ErrExist
		} else {
			done := c.cfg.Trace.Begin("cgroup", "mkdir "+dir)
			err = c.mkdir(dir)
			done(err)
		}
		switch {
		case err == nil:
			c.owned = append(c.owned, dir)
			c.managed[dir] = true
		case errors.Is(err, os.ErrExist) && dir == leaf:
			return fmt.Errorf("create cgroup %s: it exists already and glassbox did not make it", leaf)
		case errors.Is(err, os.ErrExist):
		default:
			if pe := (*fs.PathError)(nil); errors.As(err, &pe) {
				return fmt.Errorf("create cgroup: %w", err) // it names the directory
			}
			return fmt.Errorf("create cgroup: mkdir %s: %w", dir, err)
		}
		if !c.managed[dir] {
			continue
		}
		if err := c.prepareDir(h, parent, dir, dir == leaf); err != nil {
			return err
		}
	}
	return nil
}

// prepareDir readies a directory glassbox manages. v1 cpuset: a new cpuset has empty
// cpuset.cpus and cpuset.mems and refuses tasks until they are set (cpusets(7)), so the
// parent's are copied down, as runc does, unless the parent clones them itself. v2: a
// directory with children enables its available controllers for them
// (cgroup.subtree_control, cgroup-v2.rst "Enabling and Disabling").
func (c *Cgroup) prepareDir(h hierarchy, parent, dir string, leaf bool) error {
	if h.key == unifiedKey {
		if leaf {
			return nil
		}
		have := map[string]bool{}
		for _, ctl := range readControllers(filepath.Join(dir, "cgroup.subtree_control")) {
			have[ctl] = true
		}
		var enable []string
		for _, ctl := range readControllers(filepath.Join(dir, "cgroup.controllers")) {
			if !have[ctl] {
				enable = append(enable, "+"+ctl)
			}
		}
		if len(enable) == 0 {
			return nil
		}
		return c.write(dir, "cgroup.subtree_control", strings.Join(enable, " "))
	}
	if !h.has("cpuset") {
		return nil
	}
	for _, file := range []string{"cpuset.cpus", "cpuset.mems"} {
		cur, err := readTrimmed(filepath.Join(dir, file))
		if err != nil {
			return fmt.Errorf("create cgroup: %w", err)
		}
		if cur != "" {
			continue
		}
		from, err := readTrimmed(filepath.Join(parent, file))
		if err != nil {
			return fmt.Errorf("create cgroup: %w", err)
		}
		if err := c.write(dir, file, from); err != nil {
			return err
		}
	}
	if leaf {
		return nil
	}
	// A parent glassbox makes (the glassbox directory) has its children start with its
	// cpuset.cpus and cpuset.mems (cgroup.clone_children, cgroups(7)): each container's
	// cpuset is then ready at its mkdir, without the two writes, the first of which made the
	// kernel rebuild its scheduling domains.
	if cur, err := readTrimmed(filepath.Join(dir, "cgroup.clone_children")); err != nil || cur == "1" {
		return nil // set already, or a kernel without it: the leaf's writes do it
	}
	return c.write(dir, "cgroup.clone_children", "1")
}

func (h hierarchy) has(controller string) bool {
	for _, c := range h.controllers {
		if c == controller {
			return true
		}
	}
	return false
}

// keys are the hierarchy keys in a fixed order.
func (c *Cgroup) keys() []string {
	keys := make([]string, 0, len(c.paths))
	for k := range c.paths {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// Join moves pid into the cgroup in every hierarchy.
func (c *Cgroup) Join(pid int) error {
	for _, key := range c.keys() {
		if err := c.write(c.paths[key], "cgroup.procs", fmt.Sprint(pid)); err != nil {
			return fmt.Errorf("join cgroup: %w", err)
		}
	}
	return nil
}

// Update applies new resources to a live cgroup.
func (c *Cgroup) Update(res *specs.LinuxResources) error { return c.apply(res) }

// Paths maps each hierarchy to the cgroup's absolute directory: v1 controller names
// ("memory", "cpu,cpuacct"...) as mounted, and "unified" for the v2 hierarchy.
func (c *Cgroup) Paths() map[string]string {
	out := make(map[string]string, len(c.paths))
	for k, v := range c.paths {
		out[k] = v
	}
	return out
}

// Path is the cgroup's directory in the hierarchy that carries controller ("memory",
// "pids"...; "unified" for the cgroup2 hierarchy itself), or "" if none does. On a hybrid
// machine a controller that v1 does not mount is looked up in the cgroup2 hierarchy.
func (c *Cgroup) Path(controller string) string {
	dir, _ := c.controllerDir(controller)
	return dir
}

// controllerDir finds where controller's files live and whether that is cgroup2.
func (c *Cgroup) controllerDir(controller string) (string, bool) {
	if controller == unifiedKey {
		return c.paths[unifiedKey], true
	}
	for key, h := range c.hier {
		if key != unifiedKey && h.has(controller) {
			return c.paths[key], false
		}
	}
	if dir, ok := c.paths[unifiedKey]; ok {
		for _, ctl := range readControllers(filepath.Join(filepath.Dir(dir), "cgroup.subtree_control")) {
			if ctl == controller {
				return dir, true
			}
		}
	}
	return "", false
}

// Destroy removes the cgroup's directories, retrying while the kernel still counts it busy.
// It removes only what Create made (and any child cgroups made inside the container's, by
// the container itself).
func (c *Cgroup) Destroy() error {
	leaves := map[string]bool{}
	for _, dir := range c.paths {
		leaves[dir] = true
	}
	var errs []error
	for i := len(c.owned) - 1; i >= 0; i-- {
		dir := c.owned[i]
		if leaves[dir] {
			if err := c.removeTree(dir); err != nil {
				errs = append(errs, err)
				continue
			}
		} else {
			// A parent Create made (the glassbox parent, a --cgroup-parent's missing
			// directories) may hold other containers' cgroups by now: one try, and a busy
			// parent stays for them.
			done := c.cfg.Trace.Begin("cgroup", "rmdir "+dir)
			err := c.rmdir(dir)
			if errors.Is(err, unix.EBUSY) || errors.Is(err, unix.ENOTEMPTY) || errors.Is(err, os.ErrNotExist) {
				err = nil
			}
			done(err)
			if err != nil {
				errs = append(errs, fmt.Errorf("remove cgroup: %w", err))
				continue
			}
		}
		c.owned = append(c.owned[:i], c.owned[i+1:]...)
	}
	return errors.Join(errs...)
}

// removeTree removes dir and the cgroups below it, children first. rmdir of a cgroup whose
// last process has exited can fail with EBUSY for a moment while the kernel finishes the
// exit (cgroup-v2.rst: a cgroup is removable once populated is 0), so it retries with backoff.
func (c *Cgroup) removeTree(dir string) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	for _, e := range entries {
		if e.IsDir() {
			if err := c.removeTree(filepath.Join(dir, e.Name())); err != nil {
				return err
			}
		}
	}
	done := c.cfg.Trace.Begin("cgroup", "rmdir "+dir)
	delay := time.Millisecond
	for try := 0; ; try++ {
		err = c.rmdir(dir)
		if err == nil || errors.Is(err, os.ErrNotExist) {
			done(nil)
			return nil
		}
		if !errors.Is(err, unix.EBUSY) || try == 12 {
			break
		}
		time.Sleep(delay)
		if delay < 200*time.Millisecond {
			delay *= 2
		}
	}
	done(err)
	return fmt.Errorf("remove cgroup: rmdir %s: %w", dir, err)
}

func kernelMkdir(dir string) error { return os.Mkdir(dir, 0o755) }

// kernelRmdir removes a cgroup directory; cgroupfs lets rmdir take a cgroup with its control
// files, and only a cgroup.
func kernelRmdir(dir string) error {
	if err := unix.Rmdir(dir); err != nil {
		return &os.PathError{Op: "rmdir", Path: dir, Err: err}
	}
	return nil
}

func isCgroupFS(dir string) bool {
	var st unix.Statfs_t
	if unix.Statfs(dir, &st) != nil {
		return false
	}
	return st.Type == unix.CGROUP_SUPER_MAGIC || st.Type == unix.CGROUP2_SUPER_MAGIC
}
