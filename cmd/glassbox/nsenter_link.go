package main

// Linking engine/runtime/nsenter puts its C constructor into the glassbox binary: it runs
// before the Go runtime on every start and, when glassbox re-executes itself to enter a
// container (exec, nsenter, the runtime's init joining "path" namespaces), joins namespaces
// while the process is still single-threaded. Without this import those re-executions fail.
import _ "github.com/glassbox/glassbox/engine/runtime/nsenter"
