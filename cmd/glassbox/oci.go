package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	goruntime "runtime"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"

	"github.com/glassbox/glassbox/engine/runtime"
	"github.com/glassbox/glassbox/engine/runtime/seccomp"
)

// `glassbox oci` is runc's command-line contract over engine/runtime, so that podman,
// containerd or conmon can use glassbox as their OCI runtime: a link to the binary named
// glassbox-oci (or runc) behaves as `glassbox oci`. Where the runtime spec is silent, runc's
// behaviour is the reference: errors exit 1, `run` and `exec` exit with the process's status,
// and errors are also logged to --log (as JSON lines with --log-format json, which conmon reads
// to report why a container failed).

func init() {
	addCommand("oci", newOCICmd)
	personalities["glassbox-oci"] = []string{"oci"}
	personalities["runc"] = []string{"oci"}
}

const (
	ociDefaultRoot = "/run/glassbox"
	exitOCIError   = 1 // runc's status for every error of its own
)

// ociGlobals are runc's global flags.
type ociGlobals struct {
	root          string
	logPath       string
	logFormat     string
	debug         bool
	systemdCgroup bool
	criu          string
	rootless      string
	log           *slog.Logger
	logFile       *os.File
}

func newOCICmd(g *globals) *cobra.Command {
	o := &ociGlobals{}
	cmd := &cobra.Command{
		Use:   "oci",
		Short: "Run OCI bundles with runc's command line (podman --runtime, containerd, conmon)",
		Long: `glassbox oci runs OCI bundles (a config.json and a root filesystem) with runc's command
line, on glassbox's own runtime: the same commands, flags, state JSON, exit statuses and
error texts, so podman, containerd or conmon can use it in runc's place. A link to the glassbox
binary named glassbox-oci (or runc) behaves as "glassbox oci":

  ln -s $(command -v glassbox) /usr/local/bin/glassbox-oci
  podman --runtime /usr/local/bin/glassbox-oci run --rm busybox echo hi

State lives under --root (default /run/glassbox), one directory per container. Errors exit 1;
run and exec exit with the container process's status.`,
		Version: version,
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			return o.setup()
		},
		PersistentPostRun: func(cmd *cobra.Command, args []string) {
			if o.logFile != nil {
				o.logFile.Close()
			}
		},
	}
	cmd.SetVersionTemplate(ociVersionText())
	f := cmd.PersistentFlags()
	f.StringVar(&o.root, "root", ociDefaultRoot, "root directory for storage of container state (this should be located in tmpfs)")
	f.StringVar(&o.logPath, "log", "", "set the log file to write glassbox logs to (default is stderr)")
	f.StringVar(&o.logFormat, "log-format", "text", "set the log format ('text' or 'json')")
	f.BoolVar(&o.debug, "debug", false, "enable debug logging")
	f.BoolVar(&o.systemdCgroup, "systemd-cgroup", false, "enable systemd cgroup support (not available: glassbox manages cgroupfs directly)")
	f.StringVar(&o.criu, "criu", "criu", "path to the criu binary (accepted for runc compatibility; checkpoint is not supported)")
	f.StringVar(&o.rootless, "rootless", "auto", "ignore cgroup permission errors ('true', 'false', or 'auto')")
	f.Lookup("criu").Hidden = true
	cmd.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return exitStatus(exitOCIError, fmt.Errorf("%w\nSee '%s --help'", err, c.CommandPath()))
	})
	for _, sub := range []func(o *ociGlobals) *cobra.Command{
		newOCICreateCmd, newOCIStartCmd, newOCIRunCmd, newOCIStateCmd, newOCIKillCmd,
		newOCIDeleteCmd, newOCIListCmd, newOCIPsCmd, newOCIPauseCmd, newOCIResumeCmd,
		newOCIExecCmd, newOCISpecCmd, newOCIFeaturesCmd, newOCIUpdateCmd, newOCIEventsCmd,
	} {
		cmd.AddCommand(sub(o))
	}
	return cmd
}

// ociVersionText is `--version`, in runc's layout (podman and containerd log it).
func ociVersionText() string {
	lib := seccomp.Version()
	if lib == "" {
		lib = "none"
	}
	return fmt.Sprintf("glassbox-oci version {{.Version}}\nspec: %s\ngo: %s\nlibseccomp: %s\n",
		specs.Version, goruntime.Version(), lib)
}

// setup opens the log, in runc's formats: text lines or logrus-style JSON lines, levels in
// lower case ("error", "warning"), which conmon looks for to report a failure.
func (o *ociGlobals) setup() error {
	var w io.Writer = os.Stderr
	if o.logPath != "" {
		f, err := os.OpenFile(o.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND|os.O_SYNC, 0o644)
		if err != nil {
			return exitStatus(exitOCIError, fmt.Errorf("open log %s: %w", o.logPath, err))
		}
		o.logFile, w = f, f
	}
	level := slog.LevelWarn
	if o.debug {
		level = slog.LevelDebug
	}
	opts := &slog.HandlerOptions{Level: level, ReplaceAttr: logrusLevels}
	switch o.logFormat {
	case "text":
		o.log = slog.New(slog.NewTextHandler(w, opts))
	case "json":
		o.log = slog.New(slog.NewJSONHandler(w, opts))
	default:
		return exitStatus(exitOCIError, fmt.Errorf("invalid log-format: %s", o.logFormat))
	}
	switch o.rootless {
	case "auto", "true", "false":
	default:
		return exitStatus(exitOCIError, fmt.Errorf("invalid value for --rootless: %q (want true, false or auto)", o.rootless))
	}
	return nil
}

func logrusLevels(groups []string, a slog.Attr) slog.Attr {
	if a.Key == slog.LevelKey && len(groups) == 0 {
		level := strings.ToLower(a.Value.String())
		if level == "warn" {
			level = "warning"
		}
		return slog.String(slog.LevelKey, level)
	}
	return a
}

// open opens the runtime over --root.
//
// Every descriptor from 3 up is made close-on-exec first: what this process inherited from
// its caller (the --preserve-fds ones, taken before open, or any other) reaches the
// container's process only when handed on explicitly, never the hooks the runtime runs on
// the host (createRuntime, poststart, poststop) nor its helpers, which exec.Cmd would give
// every descriptor not close-on-exec.
func (o *ociGlobals) open() (*runtime.Runtime, error) {
	if err := unix.CloseRange(3, ^uint(0), unix.CLOSE_RANGE_CLOEXEC); err != nil {
		return nil, fmt.Errorf("close_range CLOSE_RANGE_CLOEXEC from 3: %w", err)
	}
	root, err := filepath.Abs(o.root)
	if err != nil {
		return nil, err
	}
	return runtime.New(runtime.Options{StateDir: root, Log: o.log})
}

// needCgroupfs refuses --systemd-cgroup where a container's cgroup would be made: runc makes
// a systemd scope then, and glassbox cannot (its cgroups are cgroupfs directories).
func (o *ociGlobals) needCgroupfs() error {
	if o.systemdCgroup {
		return errors.New("systemd cgroup flag passed, but glassbox manages cgroups through cgroupfs only (run without --systemd-cgroup; podman: --cgroup-manager cgroupfs)")
	}
	return nil
}

// run wraps a subcommand so its errors behave like runc's: logged, printed, status 1. A
// *statusError (the container's own status) passes through.
func (o *ociGlobals) run(fn func(cmd *cobra.Command, args []string) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		err := fn(cmd, args)
		if err == nil {
			return nil
		}
		var se *statusError
		if errors.As(err, &se) {
			if se.msg != "" && o.log != nil {
				o.log.Error(se.msg)
			}
			return err
		}
		if o.log != nil && o.logFile != nil {
			o.log.Error(err.Error())
		}
		return exitStatus(exitOCIError, err)
	}
}

// ociArgs checks the positional arguments with runc's message and status.
func ociArgs(min, max int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		switch {
		case min == max && len(args) != min:
			return exitStatus(exitOCIError, fmt.Errorf("%q requires exactly %d argument(s)", cmd.Name(), min))
		case len(args) < min:
			return exitStatus(exitOCIError, fmt.Errorf("%q requires a minimum of %d argument(s)", cmd.Name(), min))
		case max >= 0 && len(args) > max:
			return exitStatus(exitOCIError, fmt.Errorf("%q requires a maximum of %d argument(s)", cmd.Name(), max))
		}
		return nil
	}
}

// loadBundleSpec reads bundle/config.json, for what the CLI decides before the runtime runs
// (a terminal needs a console socket when detached).
func loadBundleSpec(bundle string) (*specs.Spec, error) {
	return readSpecFile(filepath.Join(bundle, "config.json"))
}

func readSpecFile(path string) (*specs.Spec, error) {
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("JSON specification file %s not found", path)
		}
		return nil, err
	}
	defer f.Close()
	var s specs.Spec
	if err := json.NewDecoder(f).Decode(&s); err != nil {
		return nil, fmt.Errorf("parse %s: %w", path, err)
	}
	if s.Process == nil {
		return nil, fmt.Errorf("%s: process not set", path)
	}
	return &s, nil
}

// idArg returns the container ID argument, refusing one that could not be a directory name
// under --root (runc: "invalid container id format").
func idArg(args []string) (string, error) {
	id := args[0]
	if id == "" || id == "." || id == ".." || strings.ContainsAny(id, "/\x00") || len(id) > 1024 {
		return "", fmt.Errorf("invalid id format: %q", id)
	}
	return id, nil
}

// ctxOf is the command's context, never nil.
func ctxOf(cmd *cobra.Command) context.Context {
	if ctx := cmd.Context(); ctx != nil {
		return ctx
	}
	return context.Background()
}
