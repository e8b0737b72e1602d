package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/glassbox/glassbox/test/fixture"
)

// The run case: `glassbox run --rm IMG true` against `podman run --rm IMG true` (the same
// busybox image from the same registry on 127.0.0.1, network none for both) and `runc run` on
// a bundle of that image. Its Extra measures the resident memory of glassbox's shim against
// podman's conmon, each supervising one `sleep` container.
func init() {
	register(Case{
		Name:    "run",
		About:   "run --rm busybox true: glassbox vs podman vs runc run on a bundle; shim RSS vs conmon",
		Rounds:  10,
		Prepare: prepareRun,
		Extra:   runExtra,
	})
}

// runSetup is what the run case and its Extra share.
type runSetup struct {
	ref, gbRoot, podmanRoot, podmanRun, regConf string
	reg                                         *fixture.Registry
}

var runShared *runSetup

func podmanArgs(s *runSetup, args ...string) []string {
	// crun refuses hybrid cgroups: podman runs runc here, the runtime glassbox is compared with.
	return append([]string{"--root", s.podmanRoot, "--runroot", s.podmanRun, "--storage-driver", "overlay", "--runtime", "runc",
		"--cgroup-manager", "cgroupfs", "--events-backend", "none"}, args...)
}

func podmanCmd(s *runSetup, args ...string) *exec.Cmd {
	cmd := exec.Command("podman", podmanArgs(s, args...)...)
	cmd.Env = append(os.Environ(), "CONTAINERS_REGISTRIES_CONF="+s.regConf)
	return cmd
}

func prepareRun(env *Env) ([]Contender, error) {
	s := &runSetup{reg: fixture.NewRegistry()}
	env.Cleanup(s.reg.Close)
	img, err := fixture.Busybox()
	if err != nil {
		return nil, err
	}
	if s.ref, err = s.reg.Push("busybox:latest", img); err != nil {
		return nil, err
	}
	s.gbRoot = filepath.Join(env.Tmp, "run-glassbox")
	env.Cleanup(func() {
		exec.Command(env.Glassbox, "--root", s.gbRoot, "gc").Run()
		fixture.UnmountUnder(s.gbRoot)
		os.RemoveAll(s.gbRoot)
	})
	if err := Command(env.Glassbox, "--root", s.gbRoot, "pull", "-q", s.ref); err != nil {
		return nil, err
	}
	contenders := []Contender{{
		Name: "glassbox run --rm", Role: Subject,
		Run: func() error {
			return Command(env.Glassbox, "--root", s.gbRoot, "run", "--rm", "--network", "none", s.ref, "true")
		},
	}}
	// The same command line in Go (GLASSBOX_RUN=go): what a first run of a command line costs,
	// and every run grun.c cannot repeat.
	contenders = append(contenders, Contender{Name: "glassbox run --rm, Go", Role: Peer,
		Run: func() error {
			cmd := exec.Command(env.Glassbox, "--root", s.gbRoot, "run", "--rm", "--network", "none", s.ref, "true")
			cmd.Env = append(os.Environ(), "GLASSBOX_RUN=go")
			if out, err := cmd.CombinedOutput(); err != nil {
				return fmt.Errorf("GLASSBOX_RUN=go glassbox run: %w: %s", err, out)
			}
			return nil
		}})
	// GLASSBOX_BASELINE=BIN runs another glassbox build side by side on the same root (the
	// machine's load moves too much between two bench runs to compare builds run apart).
	if base := os.Getenv("GLASSBOX_BASELINE"); base != "" {
		contenders = append(contenders, Contender{Name: "glassbox baseline", Role: Peer,
			Run: func() error {
				return Command(base, "--root", s.gbRoot, "run", "--rm", "--network", "none", s.ref, "true")
			}})
	}
	// GLASSBOX_BENCH_INIT=1 adds `run --rm --init`: what the reaper's fork costs a run.
	if os.Getenv("GLASSBOX_BENCH_INIT") != "" {
		contenders = append(contenders, Contender{Name: "glassbox run --rm --init", Role: Peer,
			Run: func() error {
				return Command(env.Glassbox, "--root", s.gbRoot, "run", "--rm", "--init", "--network", "none", s.ref, "true")
			}})
	}

	short, err := os.MkdirTemp("", "gbr")
	if err != nil {
		return nil, err
	}
	env.Cleanup(func() { fixture.UnmountUnder(short); os.RemoveAll(short) })
	s.podmanRoot, s.podmanRun = filepath.Join(short, "root"), filepath.Join(short, "run")
	s.regConf = filepath.Join(short, "registries.conf")
	os.WriteFile(s.regConf, []byte(fmt.Sprintf("[[registry]]\nlocation = %q\ninsecure = true\n", s.reg.Addr)), 0o644)
	podman := Contender{Name: "podman run --rm", Role: Peer,
		Run: func() error {
			out, err := podmanCmd(s, "run", "--rm", "--network", "none", "--ulimit", "nofile=1024:1024",
				"--ulimit", "nproc=1024:1024", s.ref, "true").CombinedOutput()
			if err != nil {
				return fmt.Errorf("podman run: %w: %s", err, strings.TrimSpace(string(out)))
			}
			return nil
		}}
	if _, err := exec.LookPath("podman"); err != nil {
		podman.Unavailable = "podman is not installed"
	} else if out, err := podmanCmd(s, "pull", "-q", s.ref).CombinedOutput(); err != nil {
		podman.Unavailable = "podman pull failed: " + strings.TrimSpace(string(out))
	}
	contenders = append(contenders, podman)

	bundle := filepath.Join(env.Tmp, "run-runc-bundle")
	runcRoot := filepath.Join(short, "runc")
	runc := Contender{Name: "runc run (bundle)", Role: Peer,
		Run: func() error {
			return Command("runc", "--root", runcRoot, "run", "--bundle", bundle, fmt.Sprintf("bench-%d", os.Getpid()))
		}}
	if err := runcBundle(bundle); err != nil {
		runc.Unavailable = err.Error()
	}
	env.Cleanup(func() { os.RemoveAll(bundle) })
	contenders = append(contenders, runc)
	runShared = s
	return contenders, nil
}

// runcBundle writes busybox's rootfs and `runc spec`'s config running `true` without a tty.
func runcBundle(bundle string) error {
	if _, err := exec.LookPath("runc"); err != nil {
		return fmt.Errorf("runc is not installed")
	}
	if err := fixture.BusyboxRootfs(filepath.Join(bundle, "rootfs")); err != nil {
		return err
	}
	if err := Command("runc", "spec", "--bundle", bundle); err != nil {
		return err
	}
	p := filepath.Join(bundle, "config.json")
	data, err := os.ReadFile(p)
	if err != nil {
		return err
	}
	var spec map[string]any
	if err := json.Unmarshal(data, &spec); err != nil {
		return err
	}
	proc := spec["process"].(map[string]any)
	proc["terminal"], proc["args"] = false, []string{"true"}
	out, _ := json.Marshal(spec)
	return os.WriteFile(p, out, 0o644)
}

// memKiB is a process's memory as /proc shows it: VmRSS, its anonymous part (what each
// extra copy costs: file pages of one binary are shared), and PSS (smaps_rollup, shared pages
// split among their users).
type memKiB struct{ rss, anon, pss int }

func procMem(pid int) (memKiB, error) {
	var m memKiB
	field := func(file, name string) (int, error) {
		data, err := os.ReadFile(fmt.Sprintf("/proc/%d/%s", pid, file))
		if err != nil {
			return 0, err
		}
		for _, line := range strings.Split(string(data), "\n") {
			if f := strings.Fields(line); len(f) >= 2 && f[0] == name {
				return strconv.Atoi(f[1])
			}
		}
		return 0, fmt.Errorf("no %s in /proc/%d/%s", name, pid, file)
	}
	var err error
	if m.rss, err = field("status", "VmRSS:"); err != nil {
		return m, err
	}
	if m.anon, err = field("status", "RssAnon:"); err != nil {
		return m, err
	}
	m.pss, err = field("smaps_rollup", "Pss:")
	return m, err
}

func (m memKiB) String() string {
	return fmt.Sprintf("RSS %d KiB (anon %d KiB), PSS %d KiB", m.rss, m.anon, m.pss)
}

func runExtra(env *Env) error {
	s := runShared
	if s == nil {
		return nil
	}
	// The first run of a command line has the Go shim; the same command line again runs in C
	// (nsenter/grun.c) with the C shim. Both are measured.
	var shims [2]memKiB
	for i, what := range []string{"Go shim (a command line's first run)", "C shim (the command line again)"} {
		id, err := exec.Command(env.Glassbox, "--root", s.gbRoot, "run", "-d", "--network", "none", s.ref, "sleep", "1000").Output()
		if err != nil {
			return fmt.Errorf("glassbox run -d: %w", err)
		}
		gid := strings.TrimSpace(string(id))
		defer exec.Command(env.Glassbox, "--root", s.gbRoot, "rm", "-f", gid).Run()
		out, err := exec.Command(env.Glassbox, "--root", s.gbRoot, "inspect", gid).Output()
		if err != nil {
			return err
		}
		var ds []struct{ ShimPid int }
		if err := json.Unmarshal(out, &ds); err != nil || len(ds) != 1 {
			return fmt.Errorf("inspect: %v", err)
		}
		if shims[i], err = procMem(ds[0].ShimPid); err != nil {
			return err
		}
		fmt.Printf("  glassbox %s: %s\n", what, shims[i])
	}
	shim := shims[1]
	pid, err := podmanCmd(s, "run", "-d", "--network", "none", "--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024", s.ref, "sleep", "1000").Output()
	if err != nil {
		fmt.Println("  conmon: podman unavailable")
		return nil
	}
	pmID := strings.TrimSpace(string(pid))
	defer podmanCmd(s, "rm", "-f", "-t", "0", pmID).Run()
	cp, err := podmanCmd(s, "inspect", "--format", "{{.State.ConmonPid}}", pmID).Output()
	if err != nil {
		return err
	}
	conmonPid, _ := strconv.Atoi(strings.TrimSpace(string(cp)))
	conmon, err := procMem(conmonPid)
	if err != nil {
		return err
	}
	fmt.Printf("  podman's conmon: %s\n  C shim/conmon: RSS %.2fx, anon %.2fx, PSS %.2fx (Go shim/conmon: RSS %.2fx)\n", conmon,
		float64(shim.rss)/float64(conmon.rss), float64(shim.anon)/float64(conmon.anon), float64(shim.pss)/float64(conmon.pss),
		float64(shims[0].rss)/float64(conmon.rss))
	return nil
}
