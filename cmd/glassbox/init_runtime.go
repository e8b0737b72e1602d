package main

import "github.com/glassbox/glassbox/engine/runtime"

// The container's init: glassbox re-executed by engine/runtime.Create inside the container's
// namespaces (dispatched before cobra, on every container start's critical path).
func init() { registerReexec(runtime.InitEntry, runtime.InitMain) }

// The holder of a user namespace for an idmapped mount's mappings (engine/runtime/idmap.go).
func init() { registerReexec(runtime.UsernsEntry, runtime.UsernsMain) }
