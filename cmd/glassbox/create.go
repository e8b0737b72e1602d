package main

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/glassbox/glassbox/engine"
)

func init() { addCommand("create", newCreateCmd) }

// runFlags are docker's run/create flags, before they become engine.CreateOptions.
type runFlags struct {
	name, workdir, user, hostname, entrypoint, memory, memorySwap, userns, cgroupParent, network string
	env, envFile, volumes, tmpfs, capAdd, capDrop, securityOpt, publish                          []string
	cpus                                                                                         float64
	cpuShares                                                                                    uint64
	pidsLimit                                                                                    int64
	tty, interactive, rm, init, readOnly, privileged                                             bool
	entrypointSet                                                                                bool
	pull                                                                                         string // missing, always, never
}

func (f *runFlags) add(fs *pflag.FlagSet) {
	fs.SetInterspersed(false) // everything after IMAGE is the container's command
	fs.StringVar(&f.name, "name", "", "assign a name to the container")
	fs.StringVar(&f.pull, "pull", "missing", `pull the image before creating: "missing" (when the store lacks it), "always", "never"`)
	fs.StringArrayVarP(&f.env, "env", "e", nil, "set environment variables (KEY=VALUE, or KEY to take it from here)")
	fs.StringArrayVar(&f.envFile, "env-file", nil, "read environment variables from a file")
	fs.StringVarP(&f.workdir, "workdir", "w", "", "working directory inside the container")
	fs.StringVarP(&f.user, "user", "u", "", "user (name|uid[:group|gid]) looked up in the image")
	fs.StringVarP(&f.hostname, "hostname", "h", "", "container host name")
	// -h is docker's --hostname here, so --help has no shorthand (cobra adds none when "help" exists).
	fs.Bool("help", false, "help for this command")
	fs.BoolVarP(&f.tty, "tty", "t", false, "allocate a pseudo-TTY")
	fs.BoolVarP(&f.interactive, "interactive", "i", false, "keep STDIN open")
	fs.BoolVar(&f.rm, "rm", false, "remove the container when it exits")
	fs.BoolVar(&f.init, "init", false, "run glassbox-init as PID 1: it passes signals on to the command and reaps orphans (docker's --init)")
	fs.StringVar(&f.entrypoint, "entrypoint", "", "overwrite the image's ENTRYPOINT")
	fs.StringVarP(&f.memory, "memory", "m", "", "memory limit (e.g. 64m, 1g)")
	fs.StringVar(&f.memorySwap, "memory-swap", "", "memory plus swap limit; -1 for unlimited swap")
	fs.Float64Var(&f.cpus, "cpus", 0, "number of CPUs (CFS quota)")
	fs.Uint64VarP(&f.cpuShares, "cpu-shares", "c", 0, "CPU shares (relative weight)")
	fs.Int64Var(&f.pidsLimit, "pids-limit", 0, "limit on the number of processes (-1 unlimited)")
	fs.StringArrayVarP(&f.volumes, "volume", "v", nil, "bind mount a host path: SRC:DST[:ro]")
	fs.StringArrayVar(&f.tmpfs, "tmpfs", nil, "mount a tmpfs: DST[:options]")
	fs.BoolVar(&f.readOnly, "read-only", false, "mount the container's root filesystem read-only")
	fs.StringArrayVar(&f.capAdd, "cap-add", nil, "add Linux capabilities")
	fs.StringArrayVar(&f.capDrop, "cap-drop", nil, "drop Linux capabilities")
	fs.BoolVar(&f.privileged, "privileged", false, "give the container every capability and device, no seccomp")
	fs.StringArrayVar(&f.securityOpt, "security-opt", nil, "no-new-privileges, seccomp=unconfined, seccomp=PROFILE.json")
	fs.StringVar(&f.userns, "userns", "", "user namespace: host or remap (root mapped to an unprivileged range)")
	fs.StringVar(&f.cgroupParent, "cgroup-parent", "", "parent cgroup for the container (absolute in each hierarchy)")
	fs.StringVar(&f.network, "network", "bridge", "network: bridge (glassbox0, NAT), none, host or container:NAME")
	fs.StringArrayVarP(&f.publish, "publish", "p", nil, "publish a port: [IP:]HOSTPORT:CONTAINERPORT[/tcp|/udp]")
}

// ramInBytes parses docker's memory sizes: a number with an optional b, k, m, g suffix
// (powers of 1024), as go-units RAMInBytes.
func ramInBytes(s string) (int64, error) {
	if s == "" {
		return 0, nil
	}
	if s == "-1" {
		return -1, nil
	}
	lower := strings.ToLower(strings.TrimSpace(s))
	mult := int64(1)
	for suffix, m := range map[string]int64{"k": 1 << 10, "kb": 1 << 10, "m": 1 << 20, "mb": 1 << 20, "g": 1 << 30, "gb": 1 << 30, "b": 1} {
		if strings.HasSuffix(lower, suffix) {
			if _, err := strconv.ParseFloat(strings.TrimSuffix(lower, suffix), 64); err == nil {
				lower, mult = strings.TrimSuffix(lower, suffix), m
				break
			}
		}
	}
	v, err := strconv.ParseFloat(lower, 64)
	if err != nil || v < 0 {
		return 0, fmt.Errorf("invalid size: %q", s)
	}
	return int64(v * float64(mult)), nil
}

// create makes the container, pulling its image first as --pull says, as docker's run and
// create do: "missing" pulls when the store lacks the image (saying so on stderr, the
// progress there too, so that stdout stays the container's or its ID), "always" pulls every
// time, "never" leaves a missing image an error.
func (f *runFlags) create(cmd *cobra.Command, e *engine.Engine, opts engine.CreateOptions) (engine.Container, error) {
	pull := func() error {
		pp := newPullPrinter(cmd.ErrOrStderr(), false)
		_, err := e.Pull(cmd.Context(), opts.Image, engine.PullOptions{Progress: pp.report})
		pp.finish()
		if err != nil {
			return fmt.Errorf("pull %s: %w", opts.Image, err)
		}
		return nil
	}
	if f.pull == "always" {
		if err := pull(); err != nil {
			return engine.Container{}, err
		}
	}
	c, err := e.Create(cmd.Context(), opts)
	if f.pull != "missing" || !errors.Is(err, engine.ErrNoImage) {
		return c, err
	}
	fmt.Fprintf(cmd.ErrOrStderr(), "Unable to find image '%s' locally\n", opts.Image)
	if err := pull(); err != nil {
		return engine.Container{}, err
	}
	return e.Create(cmd.Context(), opts)
}

func (f *runFlags) options(cmd *cobra.Command, args []string) (engine.CreateOptions, error) {
	switch f.pull {
	case "missing", "always", "never":
	default:
		return engine.CreateOptions{}, fmt.Errorf(`invalid pull option: '%s': must be one of "always", "missing" or "never"`, f.pull)
	}
	o := engine.CreateOptions{Image: args[0], Cmd: args[1:], Name: f.name, WorkingDir: f.workdir,
		User: f.user, Hostname: f.hostname, Tty: f.tty, OpenStdin: f.interactive, AutoRemove: f.rm,
		Init: f.init, CPUShares: f.cpuShares, PidsLimit: f.pidsLimit, Volumes: f.volumes, Tmpfs: f.tmpfs,
		ReadOnly: f.readOnly, CapAdd: f.capAdd, CapDrop: f.capDrop, Privileged: f.privileged,
		SecurityOpt: f.securityOpt, Userns: f.userns, CgroupParent: f.cgroupParent, Network: f.network,
		Publish: f.publish}
	if cmd.Flags().Changed("entrypoint") {
		o.Entrypoint = []string{}
		if f.entrypoint != "" {
			o.Entrypoint = []string{f.entrypoint}
		}
	}
	var err error
	if o.MemoryBytes, err = ramInBytes(f.memory); err != nil {
		return o, fmt.Errorf("invalid argument %q for \"-m, --memory\" flag: %w", f.memory, err)
	}
	if o.MemorySwapBytes, err = ramInBytes(f.memorySwap); err != nil {
		return o, fmt.Errorf("invalid argument %q for \"--memory-swap\" flag: %w", f.memorySwap, err)
	}
	if f.cpus < 0 {
		return o, fmt.Errorf("invalid argument %v for \"--cpus\" flag: must be positive", f.cpus)
	}
	o.NanoCPUs = int64(f.cpus * 1e9)
	for _, file := range f.envFile {
		vars, err := readEnvFile(file)
		if err != nil {
			return o, err
		}
		o.Env = append(o.Env, vars...)
	}
	for _, kv := range f.env {
		if !strings.Contains(kv, "=") {
			v, ok := os.LookupEnv(kv)
			if !ok {
				continue // docker drops a bare name that is not set here
			}
			kv += "=" + v
		}
		o.Env = append(o.Env, kv)
	}
	return o, nil
}

// readEnvFile reads docker's env-file format: KEY=VALUE lines, # comments, a bare KEY taken
// from this environment.
func readEnvFile(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("env file: %w", err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimLeft(sc.Text(), " \t")
		if line == "" || line[0] == '#' {
			continue
		}
		if !strings.Contains(line, "=") {
			if v, ok := os.LookupEnv(line); ok {
				out = append(out, line+"="+v)
			}
			continue
		}
		out = append(out, line)
	}
	return out, sc.Err()
}

// containerError maps the engine's errors to docker's statuses: 127 for a missing program,
// 126 for one that cannot run, 125 for everything else.
func containerError(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, engine.ErrCommandNotFound):
		return exitStatus(exitNotFound, err)
	case errors.Is(err, engine.ErrCannotExecute):
		return exitStatus(exitCannotExecute, err)
	}
	return exitStatus(exitEngineError, err)
}

func newCreateCmd(g *globals) *cobra.Command {
	var f runFlags
	cmd := &cobra.Command{
		Use:   "create [OPTIONS] IMAGE [COMMAND] [ARG...]",
		Short: "Create a new container",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts, err := f.options(cmd, args)
			if err != nil {
				return exitStatus(exitEngineError, err)
			}
			e, err := engine.Open(engine.Options{Root: g.root, Log: g.log})
			if err != nil {
				return err
			}
			c, err := f.create(cmd, e, opts)
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), c.ID)
			return nil
		},
	}
	f.add(cmd.Flags())
	return cmd
}
