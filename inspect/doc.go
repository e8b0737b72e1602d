// Package inspect gives read-only views of what the kernel keeps for any process: its
// namespaces, cgroups, mounts, credentials and capabilities, processes and network, the
// machine's whole namespace map with other runtimes' containers labelled, and a live poller of
// cgroup statistics that costs almost nothing.
//
// It reads /proc, /sys/fs/cgroup and netlink, and knows nothing of glassbox's engine: it works
// as well on a docker or podman container, or on any PID, as on glassbox's own.
//
// The poller:
//
//	p := inspect.NewPoller(time.Second)
//	err := p.Add("web", detail.CgroupPaths) // or inspect.Host{}.CgroupPaths(pid)
//	go p.Run(ctx, func(batch []inspect.Stats) { ... }) // one owner goroutine; ctx stops it
//
// Each Stats is a plain value (no pointers or slices) ready to draw; the batch slice is reused
// by the next tick, so copy what you keep.
package inspect
