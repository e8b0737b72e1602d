package main

import (
	"os"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/glassbox/glassbox/engine"
)

// runTemplateFlags are the run flags whose effect is all in what the create makes from the
// command line (config.json, the record): nsenter/grun.c repeats such a run from its
// template. Any other flag changed (a terminal, stdin, files or environment read from here, a
// network, volumes, a pull, a user namespace) leaves every run of that command line to Go.
var runTemplateFlags = map[string]bool{
	"root": true, "rm": true, "detach": true, "name": true, "network": true, "env": true, "workdir": true,
	"user": true, "hostname": true, "memory": true, "memory-swap": true, "cpus": true,
	"cpu-shares": true, "pids-limit": true, "cap-add": true, "cap-drop": true,
	"entrypoint": true, "init": true, "cgroup-parent": true, "pull": true, "security-opt": true,
}

// runSignature is the run's command line for the engine's run template, or false when grun.c
// cannot repeat it: glassbox [--root R] run ARGS, with only the flags above, -e K=V (not K,
// taken from this environment), --network none, --pull missing or never, --security-opt
// no-new-privileges or seccomp=unconfined, and --name given at most once.
func runSignature(cmd *cobra.Command, f *runFlags, detach bool) (engine.RunSignature, bool) {
	sig := engine.RunSignature{NamePos: -1, Detach: detach}
	args := os.Args
	i := 1
	for ; i < len(args) && args[i] != "run"; i++ {
		switch {
		case args[i] == "--root" && i+1 < len(args):
			i++
		case strings.HasPrefix(args[i], "--root="):
		default:
			return sig, false
		}
	}
	if i == len(args) || os.Getenv("GLASSBOX_RUNTIME") != "" {
		return sig, false
	}
	ok := true
	cmd.Flags().Visit(func(fl *pflag.Flag) {
		if !runTemplateFlags[fl.Name] {
			ok = false
		}
	})
	if !ok || f.network != "none" || f.pull == "always" {
		return sig, false
	}
	for _, e := range f.env {
		if !strings.Contains(e, "=") {
			return sig, false
		}
	}
	for _, o := range f.securityOpt {
		if o != "no-new-privileges" && o != "no-new-privileges=true" && o != "seccomp=unconfined" {
			return sig, false
		}
	}
	sig.Args = args[i+1:]
	for j, a := range sig.Args {
		if a == "--name" || strings.HasPrefix(a, "--name=") {
			if sig.NamePos >= 0 {
				return sig, false // twice: which one the flag is, only a parse says
			}
			sig.NamePos = j
		}
	}
	if cmd.Flags().Changed("name") != (sig.NamePos >= 0) {
		return sig, false
	}
	return sig, true
}

// keepRunTemplate has the engine keep the run template of container id when grun.c can
// repeat this run; a run that cannot is left as it is (the next one runs in Go again).
func keepRunTemplate(cmd *cobra.Command, e *engine.Engine, f *runFlags, detach bool, id string) {
	sig, ok := runSignature(cmd, f, detach)
	if !ok {
		return
	}
	if err := e.KeepRunTemplate(id, sig); err != nil {
	}
}
