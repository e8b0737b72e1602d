package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// The start case: the runtime alone, without images or a daemon. `glassbox oci run` of
// /bin/true on a busybox bundle against `runc run` and `crun run` on the same bundle, each
// with its own state root, and against glassbox itself with the run in Go (GLASSBOX_RUN=go)
// instead of the run cache's C path, and with the Go init (GLASSBOX_INIT=go) instead of the C
// one; a bare `unshare` of the same namespaces is the floor, the least the kernel needs. crun
// refuses this machine's hybrid cgroups: it stays in the report with the error it gives,
// rather than being left out.
func init() {
	register(Case{
		Name:    "start",
		About:   "oci run of /bin/true on a busybox bundle: glassbox vs runc vs crun; bare unshare as the floor",
		Rounds:  20,
		Prepare: prepareStart,
	})
}

func prepareStart(env *Env) ([]Contender, error) {
	bundle := filepath.Join(env.Tmp, "start-bundle")
	env.Cleanup(func() { os.RemoveAll(bundle) })
	if err := runcBundle(bundle); err != nil {
		return nil, fmt.Errorf("bundle: %w", err)
	}
	id := fmt.Sprintf("bench-start-%d", os.Getpid())

	// runtime runs `NAME --root ROOT run --bundle B ID`, then deletes whatever a failed run left.
	runtime := func(name, binary string, role Role, args ...string) Contender {
		root := filepath.Join(env.Tmp, "start-"+strings.ReplaceAll(name, " ", "-"))
		del := func() {
			exec.Command(binary, append(append(append([]string{}, args...), "--root", root), "delete", "--force", id)...).Run()
		}
		env.Cleanup(func() { del(); os.RemoveAll(root) })
		c := Contender{Name: name, Role: role,
			Run: func() error {
				return Command(binary, append(append(append([]string{}, args...), "--root", root), "run", "--bundle", bundle, id)...)
			},
		}
		if _, err := exec.LookPath(binary); err != nil && !filepath.IsAbs(binary) {
			c.Unavailable = binary + " is not installed"
		}
		// A failed run may leave the container created; the next round must not meet it.
		c.After = func() error { del(); return nil }
		return c
	}
	// The same glassbox with the Go init (engine/runtime's fallback): what the C init saves.
	goInit := runtime("glassbox, Go init", env.Glassbox, Peer, "oci")
	goInit.Run = func() error {
		root := filepath.Join(env.Tmp, "start-glassbox,-Go-init")
		cmd := exec.Command(env.Glassbox, "oci", "--root", root, "run", "--bundle", bundle, id)
		cmd.Env = append(os.Environ(), "GLASSBOX_INIT=go")
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("GLASSBOX_INIT=go %s: %w: %s", strings.Join(cmd.Args, " "), err, strings.TrimSpace(string(out)))
		}
		return nil
	}
	// The same glassbox with the run done in Go (GLASSBOX_RUN=go): what the run cache saves
	// (nsenter/runc.c: from the second round on, the subject's run starts no Go at all).
	goRun := runtime("glassbox, Go run", env.Glassbox, Peer, "oci")
	goRun.Run = func() error {
		root := filepath.Join(env.Tmp, "start-glassbox,-Go-run")
		cmd := exec.Command(env.Glassbox, "oci", "--root", root, "run", "--bundle", bundle, id)
		cmd.Env = append(os.Environ(), "GLASSBOX_RUN=go")
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("GLASSBOX_RUN=go %s: %w: %s", strings.Join(cmd.Args, " "), err, strings.TrimSpace(string(out)))
		}
		return nil
	}
	return []Contender{
		runtime("glassbox oci run", env.Glassbox, Subject, "oci"),
		goRun,
		goInit,
		runtime("runc run", "runc", Peer),
		runtime("crun run", "crun", Peer),
		{Name: "unshare (floor)", Role: Floor, Run: func() error {
			return Command("unshare", "--fork", "--pid", "--mount", "--uts", "--ipc", "--net", "true")
		}},
	}, nil
}
