package main

import (
	"context"
	"flag"
	"fmt"
	"os"

	"github.com/glassbox/glassbox/engine"
	"github.com/glassbox/glassbox/engine/shim"
)

// The shim: `glassbox shim --root ROOT ID`, spawned by the engine (Create with StartNext, or
// Start) in its own session, with its ready pipe and control connection on fds 3 and 4. It is
// a hidden re-exec entry, not a verb.
func init() { registerReexec("shim", shimMain) }

func shimMain(args []string) int {
	fs := flag.NewFlagSet("shim", flag.ContinueOnError)
	root := fs.String("root", defaultRoot, "")
	if err := fs.Parse(args); err != nil || fs.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: glassbox shim --root ROOT ID")
		return 2
	}
	e, err := engine.Open(engine.Options{Root: *root})
	if err != nil {
		fmt.Fprintln(os.Stderr, "glassbox shim:", err)
		return 1
	}
	rt, err := e.Runtime()
	if err != nil {
		fmt.Fprintln(os.Stderr, "glassbox shim:", err)
		return 1
	}
	return shim.Main(shim.Config{
		Root: e.Root(), ID: fs.Arg(0), Runtime: rt,
		Remove: func(id string) (func() error, error) { return e.RemoveEnded(context.Background(), id) },
	})
}
