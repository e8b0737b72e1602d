// Package spec turns an image's config and docker's run flags into an OCI runtime-spec
// config.json: the process (args, env, user, capabilities), the mounts, the namespaces, the
// cgroup limits and device policy, seccomp, masked and read-only paths. It mirrors what
// docker's daemon generates (moby daemon/oci_linux.go), so a docker user meets no surprises.
package spec

import (
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	seccomp "github.com/moby/profiles/seccomp"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Options are what a container's spec is made from. Field meanings follow docker's flags.
type Options struct {
	ID     string
	Rootfs string    // the merged rootfs directory (root.path); /etc/passwd is read from it
	Image  v1.Config // the image's config (Entrypoint, Cmd, Env, WorkingDir, User)

	Cmd        []string
	Entrypoint []string // nil: the image's; non-nil (even empty) replaces it and drops the image's Cmd
	Env        []string // KEY=VALUE, override the image's
	WorkingDir string
	User       string
	Hostname   string
	Tty        bool
	OpenStdin  bool

	MemoryBytes     int64
	MemorySwapBytes int64 // -1 unlimited
	NanoCPUs        int64
	CPUShares       uint64
	PidsLimit       int64

	Volumes     []string // SRC:DST[:ro|rw]
	Tmpfs       []string // DST[:options]
	ReadOnly    bool
	CapAdd      []string
	CapDrop     []string
	Privileged  bool
	SecurityOpt []string
	// Grantable are the capabilities glassbox itself holds and so can grant (capset(2) adds
	// nothing outside the caller's bounding set); nil means every one. --privileged and
	// --cap-add ALL mean all of these, as docker's do (moby's GetAllCapabilities reads the
	// daemon's bounding set); naming one outside them is an error.
	Grantable []string
	Userns    string // "", "host" or "remap"
	// RemapUID/RemapGID are the first host IDs of the --userns=remap range, RemapSize its length.
	RemapUID, RemapGID, RemapSize uint32
	Network                       string // "", "none", "host", "bridge" or "container:NAME"
	// NetnsPath is the network namespace to join with bridge and container:NAME (made and
	// wired by engine/network before the init exists).
	NetnsPath    string
	CgroupParent string
	// Init asks for glassbox's reaper as PID 1 (--init): the InitAnnotation.
	Init bool

	// EtcFiles maps /etc/hostname, /etc/hosts, /etc/resolv.conf to the container's own copies.
	EtcFiles map[string]string
}

// InitAnnotation asks glassbox's runtime for its reaper as the container's PID 1, docker's
// --init (engine/runtime's InitAnnotation, value "reaper"; a test in engine holds them equal).
const InitAnnotation = "org.glassbox.init"

// Generate builds the container's runtime spec. It reads only the rootfs's /etc/passwd and
// /etc/group (for -u) and, with --security-opt seccomp=FILE, that file.
func Generate(o Options) (*specs.Spec, error) {
	args, err := processArgs(o)
	if err != nil {
		return nil, err
	}
	user, err := LookupUser(o.Rootfs, firstNonEmpty(o.User, o.Image.User))
	if err != nil {
		return nil, err
	}
	cwd := firstNonEmpty(o.WorkingDir, o.Image.WorkingDir, "/")
	if !path.IsAbs(cwd) {
		return nil, fmt.Errorf("the working directory %q is invalid, it needs to be an absolute path", cwd)
	}
	hostname := o.Hostname
	if hostname == "" {
		hostname = o.ID
		if len(hostname) > 12 {
			hostname = hostname[:12]
		}
	}
	sec, err := parseSecurityOpts(o.SecurityOpt)
	if err != nil {
		return nil, err
	}
	caps, err := capabilities(o.Privileged, o.CapAdd, o.CapDrop, o.Grantable)
	if err != nil {
		return nil, err
	}
	s := &specs.Spec{
		Version:  specs.Version,
		Hostname: hostname,
		Root:     &specs.Root{Path: o.Rootfs, Readonly: o.ReadOnly},
		Process: &specs.Process{
			Terminal: o.Tty,
			Args:     args,
			Env:      environment(o, hostname, user.Home),
			Cwd:      cwd,
			User:     specs.User{UID: user.UID, GID: user.GID, AdditionalGids: user.AdditionalGids},
			Capabilities: &specs.LinuxCapabilities{
				Bounding: caps, Effective: caps, Permitted: caps,
			},
			NoNewPrivileges: sec.noNewPrivileges,
		},
		Mounts: defaultMounts(o.Privileged),
		Linux: &specs.Linux{
			Resources: &specs.LinuxResources{Devices: defaultDeviceRules()},
			Devices:   append([]specs.LinuxDevice(nil), defaultDevices...),
		},
		Annotations: map[string]string{"org.glassbox.container.id": o.ID},
	}
	if o.Init {
		s.Annotations[InitAnnotation] = "reaper"
	}
	if o.Privileged {
		s.Linux.Resources.Devices = []specs.LinuxDeviceCgroup{{Allow: true, Access: "rwm"}}
	} else {
		s.Linux.MaskedPaths = append([]string(nil), maskedPaths...)
		s.Linux.ReadonlyPaths = append([]string(nil), readonlyPaths...)
	}
	if err := setNamespaces(s, o); err != nil {
		return nil, err
	}
	sysfsForJoinedNetns(s, o)
	if err := setResources(s.Linux.Resources, o); err != nil {
		return nil, err
	}
	s.Linux.CgroupsPath = cgroupsPath(o.CgroupParent, o.ID)
	if err := addMounts(s, o); err != nil {
		return nil, err
	}
	if err := setSeccomp(s, o.Privileged, sec); err != nil {
		return nil, err
	}
	return s, nil
}

func firstNonEmpty(v ...string) string {
	for _, s := range v {
		if s != "" {
			return s
		}
	}
	return ""
}

// processArgs applies docker's ENTRYPOINT/CMD rules: --entrypoint replaces the image's
// entrypoint and discards the image's CMD; arguments after the image replace CMD.
func processArgs(o Options) ([]string, error) {
	entrypoint, cmd := o.Image.Entrypoint, o.Image.Cmd
	if o.Entrypoint != nil {
		entrypoint, cmd = o.Entrypoint, nil
	}
	if len(o.Cmd) > 0 {
		cmd = o.Cmd
	}
	args := append(append([]string{}, entrypoint...), cmd...)
	if len(args) == 0 || args[0] == "" {
		return nil, errors.New("no command specified")
	}
	return args, nil
}

// environment merges the image's Env with -e (later wins, order of first appearance kept) and
// adds PATH, HOSTNAME, HOME and, with a tty, TERM as docker does.
func environment(o Options, hostname, home string) []string {
	var keys []string
	vals := map[string]string{}
	set := func(kv string) {
		k, v, _ := strings.Cut(kv, "=")
		if _, ok := vals[k]; !ok {
			keys = append(keys, k)
		}
		vals[k] = v
	}
	set("PATH=" + defaultPath)
	set("HOSTNAME=" + hostname)
	for _, kv := range o.Image.Env {
		set(kv)
	}
	if o.Tty {
		set("TERM=xterm")
	}
	for _, kv := range o.Env {
		set(kv)
	}
	if _, ok := vals["HOME"]; !ok {
		set("HOME=" + home)
	}
	env := make([]string, 0, len(keys))
	for _, k := range keys {
		env = append(env, k+"="+vals[k])
	}
	return env
}

func setNamespaces(s *specs.Spec, o Options) error {
	ns := []specs.LinuxNamespace{{Type: specs.PIDNamespace}, {Type: specs.IPCNamespace},
		{Type: specs.UTSNamespace}, {Type: specs.MountNamespace}, {Type: specs.CgroupNamespace}}
	switch o.Network {
	case "", "none":
		ns = append(ns, specs.LinuxNamespace{Type: specs.NetworkNamespace})
	case "host":
		// The host's network: no namespace, and the host's own /etc/hosts and resolv.conf.
	default:
		if o.Network != "bridge" && !strings.HasPrefix(o.Network, "container:") {
			return fmt.Errorf("network %q is not supported (use bridge, none, host or container:NAME)", o.Network)
		}
		if o.NetnsPath == "" {
			return fmt.Errorf("network %s: no network namespace to join", o.Network)
		}
		// runtime-spec config-linux.md: a namespace with a path is joined (setns), not created.
		ns = append(ns, specs.LinuxNamespace{Type: specs.NetworkNamespace, Path: o.NetnsPath})
	}
	switch o.Userns {
	case "", "host":
	case "remap":
		if o.RemapSize == 0 {
			return errors.New("--userns=remap: no subordinate id range for the remap user")
		}
		if o.Privileged {
			return errors.New("--privileged and --userns=remap cannot be used together")
		}
		ns = append(ns, specs.LinuxNamespace{Type: specs.UserNamespace})
		s.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: o.RemapUID, Size: o.RemapSize}}
		s.Linux.GIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: o.RemapGID, Size: o.RemapSize}}
	default:
		return fmt.Errorf("invalid --userns %q (use host or remap)", o.Userns)
	}
	s.Linux.Namespaces = ns
	return nil
}

// sysfsForJoinedNetns: sysfs may be mounted only by a holder of CAP_SYS_ADMIN over the user
// namespace owning the mounter's network namespace (fs/sysfs/mount.c, kobj_ns_current_may_mount).
// With --userns=remap the remapped root does not own a namespace glassbox made beforehand (the
// bridge's, or container:NAME's), so /sys becomes a read-only recursive bind of the host's, as
// runc itself falls back to in newer releases.
func sysfsForJoinedNetns(s *specs.Spec, o Options) {
	if o.Userns != "remap" || o.NetnsPath == "" {
		return
	}
	for i, m := range s.Mounts {
		if m.Destination == "/sys" && m.Type == "sysfs" {
			s.Mounts[i] = specs.Mount{Destination: "/sys", Type: "bind", Source: "/sys",
				Options: []string{"rbind", "nosuid", "noexec", "nodev", "ro"}}
		}
	}
}

// setResources maps docker's limits: --cpus to a CFS quota over a 100ms period, --memory-swap
// as docker means it (memory plus swap, -1 unlimited, default twice the memory).
func setResources(r *specs.LinuxResources, o Options) error {
	if o.MemoryBytes < 0 || o.NanoCPUs < 0 || o.PidsLimit < -1 {
		return errors.New("resource limits cannot be negative")
	}
	if o.MemoryBytes > 0 && o.MemoryBytes < 6<<20 {
		return errors.New("minimum memory limit allowed is 6MB")
	}
	if o.MemoryBytes > 0 || o.MemorySwapBytes != 0 {
		if o.MemoryBytes == 0 && o.MemorySwapBytes > 0 {
			return errors.New("you should always set the memory limit when using the memoryswap limit")
		}
		m := &specs.LinuxMemory{}
		if o.MemoryBytes > 0 {
			m.Limit = i64(o.MemoryBytes)
			switch {
			case o.MemorySwapBytes == 0:
				m.Swap = i64(2 * o.MemoryBytes)
			case o.MemorySwapBytes == -1:
				m.Swap = i64(-1)
			case o.MemorySwapBytes < o.MemoryBytes:
				return errors.New("minimum memoryswap limit should be larger than memory limit")
			default:
				m.Swap = i64(o.MemorySwapBytes)
			}
		}
		r.Memory = m
	}
	if o.NanoCPUs > 0 || o.CPUShares > 0 {
		c := &specs.LinuxCPU{}
		if o.NanoCPUs > 0 {
			const periodMicros = 100000
			c.Period = u64(periodMicros)
			c.Quota = i64(o.NanoCPUs * periodMicros / 1e9)
		}
		if o.CPUShares > 0 {
			c.Shares = u64(o.CPUShares)
		}
		r.CPU = c
	}
	if o.PidsLimit != 0 {
		r.Pids = &specs.LinuxPids{Limit: i64(o.PidsLimit)}
	}
	return nil
}

// cgroupsPath is relative (the ID, nested under glassbox's own parent by package cgroups) unless
// --cgroup-parent names one, which docker's cgroupfs driver takes from the hierarchy root.
func cgroupsPath(parent, id string) string {
	if parent == "" {
		return id
	}
	return path.Join("/", parent, id)
}

func addMounts(s *specs.Spec, o Options) error {
	user := map[string]bool{}
	var extra []specs.Mount
	for _, v := range o.Volumes {
		m, err := parseVolume(v)
		if err != nil {
			return err
		}
		if user[m.Destination] {
			return fmt.Errorf("duplicate mount point: %s", m.Destination)
		}
		user[m.Destination] = true
		extra = append(extra, m)
	}
	for _, t := range o.Tmpfs {
		dst, opts, _ := strings.Cut(t, ":")
		if !path.IsAbs(dst) || path.Clean(dst) == "/" {
			return fmt.Errorf("invalid tmpfs mount %q: destination must be an absolute path other than /", t)
		}
		dst = path.Clean(dst)
		if user[dst] {
			return fmt.Errorf("duplicate mount point: %s", dst)
		}
		user[dst] = true
		options := []string{"noexec", "nosuid", "nodev"}
		if opts != "" {
			options = append(options, strings.Split(opts, ",")...)
		}
		// tmpfs(5)'s own default is 1777, but runc copies the mount point's mode onto the tmpfs;
		// say it, so a non-root user can write there as in docker.
		if !strings.Contains(opts, "mode=") {
			options = append(options, "mode=1777")
		}
		extra = append(extra, specs.Mount{Destination: dst, Type: "tmpfs", Source: "tmpfs", Options: options})
	}
	// A user's mount on a default mount point replaces the default, as in docker.
	var mounts []specs.Mount
	for _, m := range s.Mounts {
		if !user[m.Destination] {
			mounts = append(mounts, m)
		}
	}
	for _, dst := range []string{"/etc/resolv.conf", "/etc/hostname", "/etc/hosts"} {
		src, ok := o.EtcFiles[dst]
		if !ok || user[dst] {
			continue
		}
		mounts = append(mounts, specs.Mount{Destination: dst, Type: "bind", Source: src,
			Options: []string{"rbind", "rprivate"}})
	}
	s.Mounts = append(mounts, extra...)
	return nil
}

// parseVolume reads -v SRC:DST[:ro|rw]. Only host paths: glassbox has no named volumes, and a
// missing source is an error rather than a directory created on the host.
func parseVolume(v string) (specs.Mount, error) {
	parts := strings.Split(v, ":")
	if len(parts) < 2 || len(parts) > 3 {
		return specs.Mount{}, fmt.Errorf("invalid volume specification: %q (want SRC:DST[:ro])", v)
	}
	src, dst := parts[0], parts[1]
	if !filepath.IsAbs(src) {
		return specs.Mount{}, fmt.Errorf("invalid volume specification: %q: source must be an absolute host path (named volumes are not supported)", v)
	}
	if !path.IsAbs(dst) || path.Clean(dst) == "/" {
		return specs.Mount{}, fmt.Errorf("invalid volume specification: %q: destination must be an absolute path other than /", v)
	}
	if _, err := os.Stat(src); err != nil {
		return specs.Mount{}, fmt.Errorf("invalid volume specification: %q: bind source path does not exist: %s", v, src)
	}
	opts := []string{"rbind", "rprivate"}
	if len(parts) == 3 {
		switch parts[2] {
		case "ro":
			opts = append(opts, "ro")
		case "rw":
		default:
			return specs.Mount{}, fmt.Errorf("invalid volume specification: %q: invalid mode %q", v, parts[2])
		}
	}
	return specs.Mount{Destination: path.Clean(dst), Type: "bind", Source: filepath.Clean(src), Options: opts}, nil
}

type securityOpts struct {
	noNewPrivileges   bool
	seccompUnconfined bool
	seccompProfile    string // the profile's JSON, from seccomp=FILE
}

func parseSecurityOpts(opts []string) (securityOpts, error) {
	var so securityOpts
	for _, opt := range opts {
		k, v, hasV := strings.Cut(opt, "=")
		if !hasV {
			k, v, hasV = strings.Cut(opt, ":")
		}
		switch {
		case k == "no-new-privileges":
			switch {
			case !hasV || v == "true":
				so.noNewPrivileges = true
			case v == "false":
				so.noNewPrivileges = false
			default:
				return so, fmt.Errorf("invalid --security-opt %q: no-new-privileges takes true or false", opt)
			}
		case k == "seccomp" && v == "unconfined":
			so.seccompUnconfined = true
		case k == "seccomp" && v != "":
			body, err := os.ReadFile(v)
			if err != nil {
				return so, fmt.Errorf("opening seccomp profile (%s) failed: %w", v, err)
			}
			so.seccompProfile = string(body)
		default:
			return so, fmt.Errorf("invalid --security-opt %q (glassbox knows no-new-privileges, seccomp=unconfined, seccomp=FILE)", opt)
		}
	}
	return so, nil
}

// setSeccomp applies docker's default profile (moby/profiles/seccomp, which enables the
// syscalls that the process's capabilities allow), a user's profile, or none.
func setSeccomp(s *specs.Spec, privileged bool, so securityOpts) error {
	if privileged || so.seccompUnconfined {
		return nil
	}
	var err error
	if so.seccompProfile != "" {
		s.Linux.Seccomp, err = seccomp.LoadProfile(so.seccompProfile, s)
	} else {
		s.Linux.Seccomp, err = seccomp.GetDefaultProfile(s)
	}
	if err != nil {
		return fmt.Errorf("seccomp profile: %w", err)
	}
	return nil
}

// capabilities applies --privileged (every capability), then --cap-drop and --cap-add to
// docker's default set, in docker's order: "ALL" in add wins over drop.
func capabilities(privileged bool, add, drop, grantable []string) ([]string, error) {
	all := allCaps
	if grantable != nil {
		all = nil
		for _, c := range allCaps {
			if slices.Contains(grantable, c) {
				all = append(all, c)
			}
		}
	}
	if privileged {
		return all, nil
	}
	norm := func(list []string) ([]string, error) {
		var out []string
		for _, c := range list {
			c = strings.ToUpper(c)
			if c == "ALL" {
				out = append(out, c)
				continue
			}
			if !strings.HasPrefix(c, "CAP_") {
				c = "CAP_" + c
			}
			known := false
			for _, k := range allCaps {
				known = known || k == c
			}
			if !known {
				return nil, fmt.Errorf("unknown capability: %q", c)
			}
			out = append(out, c)
		}
		return out, nil
	}
	addN, err := norm(add)
	if err != nil {
		return nil, err
	}
	dropN, err := norm(drop)
	if err != nil {
		return nil, err
	}
	has := func(list []string, c string) bool {
		for _, x := range list {
			if x == c {
				return true
			}
		}
		return false
	}
	for _, c := range addN {
		if c != "ALL" && !has(all, c) {
			return nil, fmt.Errorf("--cap-add %s: glassbox does not hold it (its bounding set lacks it), so it cannot grant it", c)
		}
	}
	if has(addN, "ALL") {
		var out []string
		for _, c := range all {
			if !has(dropN, c) || has(addN, c) {
				out = append(out, c)
			}
		}
		return out, nil
	}
	var out []string
	for _, c := range all {
		keep := has(defaultCaps, c) && !has(dropN, c) && !has(dropN, "ALL")
		if keep || has(addN, c) {
			out = append(out, c)
		}
	}
	return out, nil
}
