// Command glassbox is a terminal workbench for Linux containers: it runs containers itself and
// shows, live, what the kernel does for them.
package main

import (
	"os"
	"path/filepath"
)

// reexecEntries are the hidden entry points glassbox re-executes itself into: the container
// init, the per-container shim, exec helpers. They are dispatched before cobra is touched,
// because they sit on the critical path of every container start.
var reexecEntries = map[string]func(args []string) int{}

// registerReexec adds a hidden entry point; called from init functions in this package only.
func registerReexec(name string, entry func(args []string) int) {
	if _, dup := reexecEntries[name]; dup {
		panic("duplicate re-exec entry " + name)
	}
	reexecEntries[name] = entry
}

// personalities map a program name (argv[0]) to the subcommand path it stands for, so a link
// named glassbox-oci or runc behaves as `glassbox oci`, as podman's --runtime expects.
var personalities = map[string][]string{}

func main() {
	if len(os.Args) > 1 {
		if entry, ok := reexecEntries[os.Args[1]]; ok {
			os.Exit(entry(os.Args[2:]))
		}
	}
	args := os.Args[1:]
	if prefix, ok := personalities[filepath.Base(os.Args[0])]; ok {
		args = append(append([]string{}, prefix...), args...)
	}
	os.Exit(execute(args))
}
