package inspect

import (
	"path/filepath"
	"regexp"
	"strings"
	"sync"
)

// Container labels a process that runs inside another runtime's container (or glassbox's).
type Container struct {
	Runtime string `json:"runtime"` // docker, podman, containerd, kubernetes, runc, crun, lxc, systemd-nspawn, unshare, glassbox
	ID      string `json:"id,omitempty"`
	// By says what gave it away: "cgroup <path>" or "ancestor <pid> <command>".
	By string `json:"by"`
}

// cgroupPatterns recognise runtimes by the cgroup path they give containers (docker's
// cgroupfs and systemd drivers, podman's libpod scopes, containerd's CRI, LXC 4+'s payload
// cgroups, systemd-nspawn's machine scopes, glassbox's own parent). Compiled on first use, not at
// package init: every glassbox process (the container init and shim included) links this package.
var cgroupPatterns = sync.OnceValue(func() []cgroupPattern {
	return []cgroupPattern{
		{"docker", regexp.MustCompile(`(?:^|/)docker[-/]([0-9a-f]{64})(?:\.scope)?(?:/|$)`)},
		{"podman", regexp.MustCompile(`(?:^|/)libpod-([0-9a-f]{64})(?:\.scope)?(?:/|$)`)},
		{"containerd", regexp.MustCompile(`(?:^|/)cri-containerd-([0-9a-f]{64})\.scope`)},
		{"kubernetes", regexp.MustCompile(`(?:^|/)kubepods.*?([0-9a-f]{64})`)},
		{"lxc", regexp.MustCompile(`(?:^|/)lxc(?:\.payload\.|/)([^/]+)`)},
		{"systemd-nspawn", regexp.MustCompile(`(?:^|/)machine-([^/]+)\.scope`)},
		{"glassbox", regexp.MustCompile(`(?:^|/)glassbox/([^/]+)`)},
	}
})

type cgroupPattern struct {
	runtime string
	re      *regexp.Regexp
}

// labelByCgroup recognises a container from one cgroup path.
func labelByCgroup(path string) *Container {
	for _, p := range cgroupPatterns() {
		if m := p.re.FindStringSubmatch(path); m != nil {
			id := m[1]
			if p.runtime == "systemd-nspawn" {
				id = strings.ReplaceAll(id, `\x2d`, "-") // systemd escapes '-' in unit names
			}
			return &Container{Runtime: p.runtime, ID: id, By: "cgroup " + path}
		}
	}
	return nil
}

// labelByAncestor recognises the supervisor a process descends from (cmdline of an ancestor).
func labelByAncestor(p Process) *Container {
	name := p.Name
	arg0 := ""
	if len(p.Cmdline) > 0 {
		arg0 = filepath.Base(p.Cmdline[0])
	}
	arg := func(flags ...string) string {
		for i, a := range p.Cmdline {
			for _, f := range flags {
				if a == f && i+1 < len(p.Cmdline) {
					return p.Cmdline[i+1]
				}
				if v, ok := strings.CutPrefix(a, f+"="); ok {
					return v
				}
			}
		}
		return ""
	}
	var c *Container
	switch {
	case arg0 == "glassbox" && len(p.Cmdline) > 2 && p.Cmdline[1] == "shim":
		// `glassbox shim --root ROOT ID`
		c = &Container{Runtime: "glassbox", ID: arg("--id", "-id")}
		if last := p.Cmdline[len(p.Cmdline)-1]; c.ID == "" && !strings.HasPrefix(last, "-") && last != arg("--root") {
			c.ID = last
		}
	case name == "glassbox-shim":
		// glassbox run's C shim while its caller is attached: it shares the caller's memory,
		// and so its command line, until the caller goes.
		c = &Container{Runtime: "glassbox"}
	case strings.HasPrefix(name, "containerd-shim") || strings.HasPrefix(arg0, "containerd-shim"):
		c = &Container{Runtime: "containerd", ID: arg("-id", "--id")}
		if arg("-namespace", "--namespace") == "moby" {
			c.Runtime = "docker"
		}
	case name == "conmon" || arg0 == "conmon":
		c = &Container{Runtime: "podman", ID: arg("-c", "--cid")}
	case name == "lxc-start" || strings.HasPrefix(arg0, "[lxc monitor]"):
		c = &Container{Runtime: "lxc", ID: arg("-n", "--name")}
	case name == "systemd-nspawn" || arg0 == "systemd-nspawn":
		c = &Container{Runtime: "systemd-nspawn", ID: arg("-M", "--machine")}
	case name == "runc" || arg0 == "runc" || strings.HasPrefix(name, "runc:[") || name == "exe" && len(p.Cmdline) > 1 && p.Cmdline[1] == "init" && arg0 == "runc":
		c = &Container{Runtime: "runc"}
	case name == "crun" || arg0 == "crun":
		c = &Container{Runtime: "crun"}
	case name == "unshare" || arg0 == "unshare":
		c = &Container{Runtime: "unshare"}
	case name == "nsenter" || arg0 == "nsenter":
		c = &Container{Runtime: "nsenter"}
	default:
		return nil
	}
	c.By = "ancestor " + itoa(p.PID) + " " + name
	return c
}
