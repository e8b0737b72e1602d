package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
)

// Exit statuses, as docker's CLI uses them.
const (
	exitEngineError   = 125 // glassbox itself failed: bad flags, bad input, an engine error
	exitCannotExecute = 126 // the container command exists but cannot be executed
	exitNotFound      = 127 // the container command was not found
)

const defaultRoot = "/var/lib/glassbox"

// globals are the flags every command shares.
type globals struct {
	root   string
	debug  bool
	format string
	log    *slog.Logger
}

// commands are the verbs; each file of this package adds its own in an init function.
var commands []verb

// verb is a top-level command: its name (the first word of its Use) and its constructor.
type verb struct {
	name  string
	build func(g *globals) *cobra.Command
}

func addCommand(name string, newCmd func(g *globals) *cobra.Command) {
	commands = append(commands, verb{name, newCmd})
}

// statusError makes the process exit with a given status. An empty message prints nothing:
// it carries a container's own exit code.
type statusError struct {
	status int
	msg    string
}

func (e *statusError) Error() string { return e.msg }

// exitStatus returns err as a status error with the given code, keeping its message.
func exitStatus(code int, err error) error {
	if err == nil {
		return nil
	}
	return &statusError{status: code, msg: err.Error()}
}

// newRootCmd builds the command tree for args. When args name a verb, only that verb is built:
// building all of them (every flag set, every default rendered) cost each glassbox start
// about as much as the work of a short verb such as exec. Help, completion, an unknown verb
// or none get the whole tree.
func newRootCmd(args []string) *cobra.Command {
	g := &globals{}
	root := &cobra.Command{
		Use:   "glassbox",
		Short: "A terminal workbench that runs Linux containers and shows what the kernel does for them",
		Long: `glassbox runs Linux containers itself (OCI images, overlayfs, namespaces, cgroups,
a pty console) and shows, live, everything the kernel does for them.

Run it without arguments to open the workbench; the verbs below are docker's.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       version,
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			switch g.format {
			case "table", "json":
			default:
				return fmt.Errorf("invalid --format %q: want table or json", g.format)
			}
			level := slog.LevelWarn
			if g.debug {
				level = slog.LevelDebug
			}
			g.log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if openWorkbench != nil {
				return openWorkbench(cmd.Context(), g)
			}
			return cmd.Help()
		},
	}
	rootDefault := defaultRoot
	if env := os.Getenv("GLASSBOX_ROOT"); env != "" {
		rootDefault = env
	}
	flags := root.PersistentFlags()
	flags.StringVar(&g.root, "root", rootDefault, "directory for glassbox's state (env GLASSBOX_ROOT)")
	flags.BoolVar(&g.debug, "debug", false, "log what glassbox does to stderr")
	flags.StringVar(&g.format, "format", "table", "output format of listings: table or json")
	root.SetVersionTemplate("glassbox version {{.Version}}\n")
	// Flag errors are usage errors: exit 125, as docker does.
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error {
		return exitStatus(exitEngineError, fmt.Errorf("%w\nSee '%s --help'", err, cmd.CommandPath()))
	})
	only := verbIn(args)
	for _, c := range commands {
		if only == "" || c.name == only {
			root.AddCommand(c.build(g))
		}
	}
	// `glassbox completion SHELL` names no verb, so it gets the whole tree and cobra's
	// completion command; a verb's command line does not need it built.
	root.CompletionOptions.DisableDefaultCmd = only != ""
	return root
}

// verbIn returns the verb args run, "" when it is not a registered one: the first argument
// that is not a flag of the root command or a flag's value.
func verbIn(args []string) string {
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--root" || a == "--format":
			i++ // the flag's value
		case a == "--":
			return ""
		case strings.HasPrefix(a, "-"):
		default:
			for _, c := range commands {
				if c.name == a {
					return a
				}
			}
			return ""
		}
	}
	return ""
}

// openWorkbench opens the TUI; nil until the workbench is linked in.
var openWorkbench func(ctx context.Context, g *globals) error

// execute runs the CLI and returns the process exit status.
func execute(args []string) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	root := newRootCmd(args)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return 0
	}
	var se *statusError
	if errors.As(err, &se) {
		if se.msg != "" {
			fmt.Fprintf(os.Stderr, "glassbox: %s\n", se.msg)
		}
		return se.status
	}
	fmt.Fprintf(os.Stderr, "glassbox: %s\n", err)
	return exitEngineError
}

// noArgs refuses arguments as docker does (`"docker load" accepts no arguments.`), with the
// command's usage line, instead of cobra's `unknown command "x" for "glassbox load"`, which
// reads as if the verb did not exist.
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return fmt.Errorf("%q accepts no arguments (usage: %s)", cmd.CommandPath(), cmd.UseLine())
	}
	return nil
}
