package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/glassbox/glassbox/engine/network"
	"github.com/glassbox/glassbox/engine/shim"
	"github.com/glassbox/glassbox/engine/snapshot"
	"github.com/glassbox/glassbox/engine/spec"
	"github.com/glassbox/glassbox/engine/state"
	"github.com/glassbox/glassbox/engine/trace"
	"github.com/glassbox/glassbox/internal/fault"
)

// ErrDetached is returned by Attach when the caller detached (ctrl-p ctrl-q).
var ErrDetached = errors.New("detached")

// ErrCommandNotFound and ErrCannotExecute are wrapped by Start's errors when the container's
// program is missing (docker exits 127) or cannot be executed (126).
var (
	ErrCommandNotFound = errors.New("command not found")
	ErrCannotExecute   = errors.New("cannot execute")
)

func (e *Engine) store() (*state.Store, error) { return state.Open(e.root) }

// Runtime is the OCI runtime the engine and its shims use: glassbox's own (engine/runtime,
// in the shim's process), or runc when GLASSBOX_RUNTIME=runc (for comparison).
func (e *Engine) Runtime() (shim.Runtime, error) {
	if os.Getenv("GLASSBOX_RUNTIME") == "runc" {
		return shim.NewRunc(e.runtimeStateDir())
	}
	return shim.NewGlassbox(e.runtimeStateDir())
}

// runtimeStateDir holds Runtime's state, a directory per container ID.
func (e *Engine) runtimeStateDir() string {
	if os.Getenv("GLASSBOX_RUNTIME") == "runc" {
		return filepath.Join(e.root, "runc")
	}
	return filepath.Join(e.root, "runtime")
}

// faultPoint lets tests crash a create half-way (GLASSBOX_FAULT=create:<step>, package
// fault): the process is SIGKILLed there, and gc must clean up what it left.
func faultPoint(step string) { fault.Crash("create:" + step) }

func wrapKind(err, kind error) error { return &wrapped{err, kind} }

// Create makes a container from an image: a record, the image leased, an overlay rootfs over
// the image's layers with the container's own upper and work directories, /etc/hostname,
// /etc/hosts and /etc/resolv.conf, and the OCI config.json. Nothing runs yet.
func (e *Engine) Create(ctx context.Context, opts CreateOptions) (Container, error) {
	if opts.Init && os.Getenv("GLASSBOX_RUNTIME") == "runc" {
		// Before anything is made: runc's shim driver would refuse it only at start.
		return Container{}, errors.New("--init: the reaper is glassbox's own runtime's; GLASSBOX_RUNTIME=runc has none (docker-init is not installed)")
	}
	ports, err := checkNetworkOptions(&opts)
	if err != nil {
		return Container{}, err
	}
	st, err := e.store()
	if err != nil {
		return Container{}, err
	}
	// With StartNext the create is the first part of the start, and its steps go in the
	// start's trace (a nil recorder records nothing).
	var tr *trace.Recorder
	if opts.StartNext {
		tr = trace.New(time.Now())
	}
	// encoding/json builds its encoder for a type at its first use, by reflection over the
	// whole runtime-spec tree (2 ms); built now, it is ready when config.json is written,
	// while this goroutine waits on the image store's lock and fsync.
	go json.Marshal(&specs.Spec{})
	id := state.NewID()
	if opts.StartNext {
		// The shim's own start (a Go process) runs while this create resolves the image,
		// mounts and writes the spec; Start hands it the container, or dropping it makes it
		// exit.
		e.spawnPending(id, tr)
	}
	done := tr.Begin("resolve image", opts.Image)
	imageID, lowers, cf, err := e.acquireImage(opts.Image, id, opts.AutoRemove)
	done(err)
	if err != nil {
		e.dropPending(id)
		if errors.Is(err, ErrNotFound) {
			// The image store's error does not say which image: a create names it.
			err = wrapKind(wrapKind(fmt.Errorf("no such image: %s (glassbox pull %s fetches it)", opts.Image, opts.Image), ErrNoImage), ErrNotFound)
		}
		return Container{}, err
	}
	rawOpts, _ := json.Marshal(opts)
	rec := &state.Record{ID: id, Name: opts.Name, Image: opts.Image, ImageID: imageID,
		Created: time.Now().UTC(), Status: state.Creating, Lowers: lowers, Options: rawOpts,
		CreatorPid: os.Getpid(), CreatorStart: shim.StartTime(os.Getpid()), Ephemeral: opts.AutoRemove}
	done = tr.Begin("record", "reserve the name, write "+filepath.Join(st.Dir(id), "state.json"))
	err = st.Create(rec)
	done(err)
	if err != nil {
		e.dropPending(id)
		e.ReleaseImage(imageID, id)
		if errors.Is(err, state.ErrNameInUse) {
			return Container{}, wrapKind(err, ErrConflict)
		}
		return Container{}, err
	}
	attached := false
	fail := func(err error) (Container, error) {
		e.dropPending(id)
		if attached {
			if nerr := e.teardownNetwork(context.WithoutCancel(ctx), id); nerr != nil {
				e.log.Warn("undo network setup", "id", id, "err", nerr)
			}
		}
		snapshot.Unmount(st.Rootfs(id))
		st.Delete(id, rec.Name)
		e.ReleaseImage(imageID, id)
		return Container{}, err
	}
	for _, d := range []string{st.Upper(id), st.Work(id), st.Rootfs(id)} {
		if err := os.Mkdir(d, 0o755); err != nil {
			return fail(fmt.Errorf("create %s: %w", d, err))
		}
	}
	done = tr.Begin("mount overlay", st.Rootfs(id))
	m, err := mountRootfs(st, id, lowers, opts.AutoRemove)
	done(err)
	if err != nil {
		return fail(err)
	}
	e.log.Debug("rootfs mounted", "id", id, "method", m.Method)
	faultPoint("mount")
	hostname := opts.Hostname
	if hostname == "" {
		hostname = id[:12]
	}
	var netnsPath string
	var ip netip.Addr
	if needsNetwork(opts.Network) {
		attached = true
		if netnsPath, ip, err = e.setupNetwork(ctx, st, id, rec.Name, opts, ports); err != nil {
			return fail(err)
		}
	}
	faultPoint("network")
	done = tr.Begin("etc files", "/etc/hostname, /etc/hosts, /etc/resolv.conf in "+st.Dir(id))
	etc, err := writeEtcFiles(st.Dir(id), hostname, opts.Network, ip)
	done(err)
	if err != nil {
		return fail(err)
	}
	so := spec.Options{ID: id, Rootfs: st.Rootfs(id), Image: cf.Config, Grantable: allCapabilities(),
		Cmd: opts.Cmd, Entrypoint: opts.Entrypoint, Env: opts.Env, WorkingDir: opts.WorkingDir,
		User: opts.User, Hostname: hostname, Tty: opts.Tty, OpenStdin: opts.OpenStdin,
		MemoryBytes: opts.MemoryBytes, MemorySwapBytes: opts.MemorySwapBytes, NanoCPUs: opts.NanoCPUs,
		CPUShares: opts.CPUShares, PidsLimit: opts.PidsLimit, Volumes: opts.Volumes, Tmpfs: opts.Tmpfs,
		ReadOnly: opts.ReadOnly, CapAdd: opts.CapAdd, CapDrop: opts.CapDrop, Privileged: opts.Privileged,
		SecurityOpt: opts.SecurityOpt, Userns: opts.Userns, Network: opts.Network, NetnsPath: netnsPath,
		CgroupParent: opts.CgroupParent, EtcFiles: etc, Init: opts.Init}
	if opts.Userns == "remap" {
		so.RemapUID, so.RemapGID, so.RemapSize = remapRange()
		// The remapped root must be able to walk down to its rootfs (docker instead keeps a
		// separate root per remap range): say which directory stops it, rather than runc's EACCES.
		for d := filepath.Dir(st.Rootfs(id)); d != "/"; d = filepath.Dir(d) {
			if fi, err := os.Stat(d); err == nil && fi.Mode().Perm()&0o001 == 0 {
				return fail(fmt.Errorf("--userns=remap: %s (mode %o) is not searchable by the remapped root (host uid %d): chmod o+x it or use another --root", d, fi.Mode().Perm(), so.RemapUID))
			}
		}
	}
	done = tr.Begin("generate spec", "image config, flags and defaults to an OCI runtime spec")
	s, err := spec.Generate(so)
	done(err)
	if err != nil {
		return fail(err)
	}
	done = tr.Begin("mount points", "the spec's mount points made in the rootfs (upper directory)")
	err = makeMountPoints(st.Rootfs(id), s.Mounts)
	if err == nil && s.Root.Readonly {
		err = makeWorkingDir(st.Rootfs(id), s.Process.Cwd, so.RemapUID, so.RemapGID)
	}
	done(err)
	if err != nil {
		return fail(err)
	}
	done = tr.Begin("write config.json", filepath.Join(st.Bundle(id), "config.json"))
	data, err := json.MarshalIndent(s, "", "  ")
	if err == nil {
		err = os.WriteFile(filepath.Join(st.Bundle(id), "config.json"), data, 0o600)
	}
	done(err)
	if err != nil {
		return fail(fmt.Errorf("write config.json: %w", err))
	}
	faultPoint("spec")
	done = tr.Begin("record", "status created")
	_, err = st.Update(id, func(r *state.Record) error {
		r.Command, r.Status, r.CreatorPid, r.CreatorStart = s.Process.Args, state.Created, 0, 0
		return nil
	})
	done(err)
	if err != nil {
		return fail(err)
	}
	rec.Command, rec.Status = s.Process.Args, state.Created
	shim.AppendEvent(st.EventsPath(), "create", rec)
	return containerSummary(rec), nil
}

// remapRange is --userns=remap's host range: the "glassbox" line of /etc/subuid and
// /etc/subgid (subuid(5)) or, without one, 100000 + 65536 as useradd would allot first.
func remapRange() (uid, gid, size uint32) {
	read := func(file string) (uint32, uint32, bool) {
		data, err := os.ReadFile(file)
		if err != nil {
			return 0, 0, false
		}
		for _, line := range strings.Split(string(data), "\n") {
			f := strings.Split(strings.TrimSpace(line), ":")
			var start, n uint32
			if len(f) == 3 && f[0] == "glassbox" {
				if _, err := fmt.Sscan(f[1], &start); err == nil {
					if _, err := fmt.Sscan(f[2], &n); err == nil {
						return start, n, true
					}
				}
			}
		}
		return 0, 0, false
	}
	uid, size, ok := read("/etc/subuid")
	if !ok {
		uid, size = 100000, 65536
	}
	gid, gsize, ok := read("/etc/subgid")
	if !ok {
		gid, gsize = 100000, 65536
	}
	return uid, gid, min(size, gsize)
}

// writeEtcFiles writes the container's own /etc/hostname, /etc/hosts and /etc/resolv.conf,
// which the spec bind-mounts over the image's. With --network host the host's hosts and
// resolv.conf are copied; otherwise resolv.conf is the host's without loopback nameservers
// (they would point at the container's own loopback), as docker does, and hosts names the
// container at its address (ip, when it has one).
func writeEtcFiles(dir, hostname, netMode string, ip netip.Addr) (map[string]string, error) {
	files := map[string]string{
		"/etc/hostname":    filepath.Join(dir, "hostname"),
		"/etc/hosts":       filepath.Join(dir, "hosts"),
		"/etc/resolv.conf": filepath.Join(dir, "resolv.conf"),
	}
	hosts := string(network.Hosts(hostname, ip))
	resolv, _ := os.ReadFile("/etc/resolv.conf")
	if netMode == "host" {
		if h, err := os.ReadFile("/etc/hosts"); err == nil {
			hosts = string(h)
		}
	} else {
		resolv = network.ResolvConf(resolv)
	}
	contents := map[string]string{"/etc/hostname": hostname + "\n", "/etc/hosts": hosts, "/etc/resolv.conf": string(resolv)}
	for k, p := range files {
		if err := os.WriteFile(p, []byte(contents[k]), 0o644); err != nil {
			return nil, fmt.Errorf("write %s: %w", p, err)
		}
	}
	return files, nil
}

// mountRootfs mounts the container's overlay rootfs; a --rm container's is volatile: its
// upper directory dies with it, and an ordinary overlay's umount would sync the whole
// filesystem under the root directory on the way out of every run --rm.
func mountRootfs(st *state.Store, id string, lowers []string, ephemeral bool) (snapshot.OverlayMount, error) {
	if ephemeral {
		return snapshot.MountOverlayVolatile(lowers, st.Upper(id), st.Work(id), st.Rootfs(id))
	}
	return snapshot.MountOverlay(lowers, st.Upper(id), st.Work(id), st.Rootfs(id))
}

// isMountPoint says whether dir is a mount point: its device differs from its parent's.
func isMountPoint(dir string) bool {
	var a, b unix.Stat_t
	if unix.Stat(dir, &a) != nil || unix.Stat(filepath.Dir(dir), &b) != nil {
		return false
	}
	return a.Dev != b.Dev
}

// lookup opens the root's container store and resolves ref (a name, an ID or its prefix) in
// it: the first steps of every verb on a container.
func (e *Engine) lookup(ref string) (*state.Store, string, error) {
	st, err := e.store()
	if err != nil {
		return nil, "", err
	}
	id, err := e.resolve(st, ref)
	if err != nil {
		return nil, "", err
	}
	return st, id, nil
}

func (e *Engine) resolve(st *state.Store, ref string) (string, error) {
	id, err := st.Resolve(ref)
	if errors.Is(err, state.ErrNotFound) {
		return "", wrapKind(fmt.Errorf("no such container: %s", ref), ErrNotFound)
	}
	return id, err
}

// refresh reads a record and tells the truth about it: a container marked running whose
// shim is gone (SIGKILLed, or the machine rebooted) is exited, exit code unknown (-1).
func (e *Engine) refresh(st *state.Store, id string) (*state.Record, error) {
	rec, err := st.Get(id)
	if err != nil {
		return nil, wrapKind(err, ErrNotFound)
	}
	switch {
	case rec.Status == state.Creating && !shim.Alive(rec.CreatorPid, rec.CreatorStart):
		return st.Update(id, func(r *state.Record) error {
			if r.Status == state.Creating && !shim.Alive(r.CreatorPid, r.CreatorStart) {
				r.Status, r.Error = state.Dead, fmt.Sprintf("its create (pid %d) was cut off; gc removes it", r.CreatorPid)
			}
			return nil
		})
	case rec.Status != state.Running || shim.Alive(rec.ShimPid, rec.ShimStart):
		return rec, nil
	}
	return st.Update(id, func(r *state.Record) error {
		if r.Status == state.Running && !shim.Alive(r.ShimPid, r.ShimStart) {
			r.Error = fmt.Sprintf("the shim (pid %d) died; exit code unknown", r.ShimPid)
			r.Status, r.ExitCode, r.ShimPid, r.FinishedAt = state.Exited, -1, 0, time.Now().UTC()
		}
		return nil
	})
}

// makeWorkingDir creates a missing working directory in the rootfs now, owned by the
// container's root (the remapped one with --userns=remap), as docker's daemon does: the runtime
// would make it at start, which a read-only rootfs refuses (EROFS).
func makeWorkingDir(rootfs, cwd string, uid, gid uint32) error {
	rel := strings.TrimPrefix(filepath.Clean("/"+cwd), "/")
	if rel == "" {
		return nil
	}
	root, err := snapshot.OpenRoot(rootfs)
	if err != nil {
		return err
	}
	defer root.Close()
	if _, err := root.OpenDir(rel, false); err == nil {
		return nil // root.Close closes the descriptors OpenDir keeps
	}
	dirfd, err := root.OpenDir(rel, true)
	if err != nil {
		return fmt.Errorf("create working directory %s: %w", cwd, err)
	}
	if uid != 0 || gid != 0 {
		if err := unix.Fchown(dirfd, int(uid), int(gid)); err != nil {
			return fmt.Errorf("create working directory %s: fchown: %w", cwd, err)
		}
	}
	return nil
}

// Mount point kinds: what makeMountPoints makes for a mount (runtemplate.go's gMountPoint).
const (
	mountPointDir   = 0 // a directory
	mountPointFile  = 1 // an empty file: a bind mount of a file
	mountPointTmpfs = 2 // a directory of mode 1777 when new
)

// mountPoint is one mount point of a spec: its path in the rootfs and its kind.
type mountPoint struct {
	kind uint32
	rel  string
}

// mountPointsOf lists the spec's mount points in mount order (the rootfs itself left out).
// A bind mount's kind depends on its source, as it is now.
func mountPointsOf(mounts []specs.Mount) []mountPoint {
	var out []mountPoint
	for _, m := range mounts {
		rel := strings.TrimPrefix(filepath.Clean(m.Destination), "/")
		if rel == "" {
			continue
		}
		kind := uint32(mountPointDir)
		switch m.Type {
		case "tmpfs":
			kind = mountPointTmpfs
		case "bind":
			if fi, err := os.Stat(m.Source); err == nil && !fi.IsDir() {
				kind = mountPointFile
			}
		}
		out = append(out, mountPoint{kind, rel})
	}
	return out
}

// makeMountPoints creates the spec's missing mount points in the rootfs as glassbox (real
// root), confined to the rootfs (openat2 RESOLVE_IN_ROOT: an image's /etc -> /host link
// cannot lead out). A --userns=remap root could not create them in directories that real root
// owns; the runtime would fail with EACCES.
func makeMountPoints(rootfs string, mounts []specs.Mount) error {
	return makePoints(rootfs, mountPointsOf(mounts))
}

func makePoints(rootfs string, points []mountPoint) error {
	root, err := snapshot.OpenRoot(rootfs)
	if err != nil {
		return err
	}
	defer root.Close()
	for _, p := range points {
		rel, dst := p.rel, "/"+p.rel
		switch p.kind {
		case mountPointTmpfs:
			// runc gives a tmpfs the mode of the directory it covers: a new one is 1777, as the
			// tmpfs would be had runc made the mount point itself.
			dirfd, err := root.OpenDir(filepath.Dir(rel), true)
			if err != nil {
				return fmt.Errorf("create mount point %s: %w", dst, err)
			}
			if err := unix.Mkdirat(dirfd, filepath.Base(rel), 0o755); err == nil {
				unix.Fchmodat(dirfd, filepath.Base(rel), 0o1777, 0)
			} else if !errors.Is(err, unix.EEXIST) {
				return fmt.Errorf("create mount point %s: %w", dst, err)
			}
		case mountPointDir:
			if _, err := root.OpenDir(rel, true); err != nil {
				return fmt.Errorf("create mount point %s: %w", dst, err)
			}
		default:
			dirfd, err := root.OpenDir(filepath.Dir(rel), true)
			if err != nil {
				return fmt.Errorf("create mount point %s: %w", dst, err)
			}
			fd, err := unix.Openat(dirfd, filepath.Base(rel), unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_WRONLY|unix.O_CLOEXEC, 0o644)
			if err == nil {
				unix.Close(fd)
			} else if !errors.Is(err, unix.EEXIST) {
				return fmt.Errorf("create mount point %s: %w", dst, err)
			}
		}
	}
	return nil
}
