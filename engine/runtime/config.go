package runtime

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/glassbox/glassbox/engine/runtime/lsm"
	"github.com/glassbox/glassbox/engine/runtime/nsenter"
	"github.com/glassbox/glassbox/engine/runtime/sched"
)

// loadSpec reads and checks a bundle's config.json. Errors name the field at fault, as
// runc's validator does: "linux.namespaces[2].type: unknown namespace type \"foo\"".
func loadSpec(bundle string) (*specs.Spec, string, error) {
	p := filepath.Join(bundle, "config.json")
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, "", fmt.Errorf("read bundle config: %w", err)
	}
	var s specs.Spec
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, "", fmt.Errorf("parse %s: %w", p, err)
	}
	rootfs, err := checkSpec(&s, bundle)
	if err != nil {
		return nil, "", fmt.Errorf("%s: %w", p, err)
	}
	return &s, rootfs, nil
}

// checkSpec validates what Create relies on and returns the rootfs's absolute path.
func checkSpec(s *specs.Spec, bundle string) (string, error) {
	if s.Root == nil || s.Root.Path == "" {
		return "", errors.New("root.path: missing")
	}
	rootfs := s.Root.Path
	if !filepath.IsAbs(rootfs) {
		rootfs = filepath.Join(bundle, rootfs)
	}
	rootfs, err := filepath.Abs(rootfs)
	if err != nil {
		return "", fmt.Errorf("root.path: %w", err)
	}
	if fi, err := os.Stat(rootfs); err != nil {
		return "", fmt.Errorf("root.path: %w", err)
	} else if !fi.IsDir() {
		return "", fmt.Errorf("root.path: %s is not a directory", rootfs)
	}
	if s.Process == nil {
		return "", errors.New("process: missing")
	}
	if len(s.Process.Args) == 0 {
		return "", errors.New("process.args: empty")
	}
	if s.Process.Cwd == "" || !filepath.IsAbs(s.Process.Cwd) {
		return "", fmt.Errorf("process.cwd: %q is not an absolute path", s.Process.Cwd)
	}
	if s.Linux == nil {
		return "", errors.New("linux: missing")
	}
	seen := map[specs.LinuxNamespaceType]bool{}
	hasMnt := false
	for i, ns := range s.Linux.Namespaces {
		if _, ok := nsenter.SpecType(ns.Type); !ok {
			return "", fmt.Errorf("linux.namespaces[%d].type: unknown namespace type %q", i, ns.Type)
		}
		if seen[ns.Type] {
			return "", fmt.Errorf("linux.namespaces[%d].type: %s given twice", i, ns.Type)
		}
		seen[ns.Type] = true
		if ns.Path != "" {
			if _, err := os.Stat(ns.Path); err != nil {
				return "", fmt.Errorf("linux.namespaces[%d].path: %w", i, err)
			}
		}
		if ns.Type == specs.MountNamespace {
			hasMnt = true
		}
	}
	if !hasMnt {
		return "", errors.New("linux.namespaces: a mount namespace is required")
	}
	if seen[specs.UserNamespace] {
		if len(s.Linux.UIDMappings) == 0 || len(s.Linux.GIDMappings) == 0 {
			for _, ns := range s.Linux.Namespaces {
				if ns.Type == specs.UserNamespace && ns.Path == "" {
					return "", errors.New("linux.uidMappings: a new user namespace needs uid and gid mappings")
				}
			}
		}
	} else if len(s.Linux.UIDMappings)+len(s.Linux.GIDMappings) > 0 {
		return "", errors.New("linux.uidMappings: mappings given without a user namespace")
	}
	for i, m := range s.Mounts {
		if m.Destination == "" || !filepath.IsAbs(m.Destination) {
			return "", fmt.Errorf("mounts[%d].destination: %q is not an absolute path", i, m.Destination)
		}
		if m.Type == "" && !isBind(m) {
			return "", fmt.Errorf("mounts[%d].type: missing (and not a bind mount)", i)
		}
		if isBind(m) {
			if _, err := os.Stat(m.Source); err != nil {
				return "", fmt.Errorf("mounts[%d].source: %w", i, err)
			}
		}
		if _, _, _, err := parseMountOptions(m.Options); err != nil {
			return "", fmt.Errorf("mounts[%d].options: %w", i, err)
		}
		if err := checkIDMap(s, i, m); err != nil {
			return "", err
		}
	}
	// After pivot_root the init reaches its own descriptors through /proc/thread-self/fd
	// (the exec fifo, masked and read-only paths, the console): without a procfs at /proc
	// the image's own /proc directory, links and all, would decide where those lead
	// (CVE-2025-52881's class). The last mount at /proc is the one the init sees.
	procAt := -1
	for i, m := range s.Mounts {
		if filepath.Clean(m.Destination) == "/proc" {
			procAt = i
		}
	}
	if procAt < 0 || s.Mounts[procAt].Type != "proc" {
		return "", errors.New("mounts: no proc mounted at /proc: the init reaches its own descriptors through /proc/thread-self after pivot_root, which must not be the image's own directory")
	}
	for i, r := range s.Process.Rlimits {
		if _, ok := rlimitNames[r.Type]; !ok {
			return "", fmt.Errorf("process.rlimits[%d].type: unknown rlimit %q", i, r.Type)
		}
	}
	if c := s.Process.Capabilities; c != nil {
		for _, set := range [][]string{c.Bounding, c.Effective, c.Permitted, c.Inheritable, c.Ambient} {
			for _, name := range set {
				if _, ok := capByName(name); !ok {
					return "", fmt.Errorf("process.capabilities: unknown capability %q", name)
				}
			}
		}
	}
	if p := s.Linux.Personality; p != nil && (p.Domain != "" && p.Domain != specs.PerLinux || len(p.Flags) > 0) {
		// Said rather than ignored: a container asking for LINUX32 would otherwise run as
		// LINUX and see a 64-bit uname.
		return "", fmt.Errorf("linux.personality: domain %q with flags %v is not supported (only LINUX)", p.Domain, p.Flags)
	}
	if err := checkHooks(s.Hooks); err != nil {
		return "", err
	}
	if s.Process.Scheduler != nil {
		if _, err := sched.Attr("process.scheduler", s.Process.Scheduler); err != nil {
			return "", err
		}
	}
	if s.Process.IOPriority != nil {
		if _, err := sched.IOPrio("process.ioPriority", s.Process.IOPriority); err != nil {
			return "", err
		}
	}
	if err := lsm.CheckAppArmor("process.apparmorProfile", s.Process.ApparmorProfile); err != nil {
		return "", err
	}
	if err := lsm.CheckSELinux("process.selinuxLabel", s.Process.SelinuxLabel); err != nil {
		return "", err
	}
	if err := lsm.CheckSELinux("linux.mountLabel", s.Linux.MountLabel); err != nil {
		return "", err
	}
	for name := range s.Linux.Sysctl {
		if strings.Contains(name, "..") || strings.Contains(name, "/") && strings.Contains(name, ".") {
			return "", fmt.Errorf("linux.sysctl: bad name %q", name)
		}
	}
	if v, ok := s.Annotations[InitAnnotation]; ok && v != InitReaper {
		return "", fmt.Errorf("annotations[%q]: unknown init %q (only %q, glassbox run --init)", InitAnnotation, v, InitReaper)
	}
	return rootfs, nil
}

// InitAnnotation in a spec's annotations asks for glassbox's own init as the container's
// PID 1 (`glassbox run --init`, docker's --init): the C init forks the program once every
// security step is applied and stays to pass signals on and reap orphans
// (nsenter/initc_reaper.c). InitReaper is its one value. engine/spec writes it.
const (
	InitAnnotation = "org.glassbox.init"
	InitReaper     = "reaper"
)

// wantsReaper says whether s asks for the reaper (checkSpec refused any other value).
func wantsReaper(s *specs.Spec) bool { return s.Annotations[InitAnnotation] == InitReaper }

func isBind(m specs.Mount) bool {
	if m.Type == "bind" {
		return true
	}
	for _, o := range m.Options {
		if o == "bind" || o == "rbind" {
			return true
		}
	}
	return false
}

// idMaps converts the spec's mappings for nsenter.
func idMaps(m []specs.LinuxIDMapping) []syscall.SysProcIDMap {
	out := make([]syscall.SysProcIDMap, len(m))
	for i, e := range m {
		out[i] = syscall.SysProcIDMap{ContainerID: int(e.ContainerID), HostID: int(e.HostID), Size: int(e.Size)}
	}
	return out
}
