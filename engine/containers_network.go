package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"

	"github.com/glassbox/glassbox/engine/network"
	"github.com/glassbox/glassbox/engine/state"
)

// Networking, wired into the lifecycle: Create makes the container's network namespace and
// attaches it (bridge) or binds another container's (container:NAME), before the spec is
// written, so config.json names a namespace to join and /etc/hosts has the address; start binds
// the published ports (a port in use fails before the shim exists) and spawns the loopback
// proxy; Remove and GC tear it all down.

// networkConfigPath holds the root's bridge choice (`glassbox network config`).
func (e *Engine) networkConfigPath() string { return filepath.Join(e.root, "network.json") }

// networkManager opens the root's bridge network; its state is machine-wide, keyed by bridge.
func (e *Engine) networkManager() (*network.Manager, error) {
	cfg, err := network.ReadConfig(e.networkConfigPath())
	if err != nil {
		return nil, err
	}
	m, err := network.Open(network.DefaultStateDir, e.log, cfg)
	if err != nil {
		return nil, err
	}
	m.SetFaultHook(func(step string) { faultPoint("network-" + step) })
	return m, nil
}

// needsNetwork says whether a container's network mode has glassbox state to tear down.
func needsNetwork(mode string) bool {
	return mode == "bridge" || strings.HasPrefix(mode, "container:")
}

// checkNetworkOptions normalises --network (bridge is the default) and parses -p, before
// anything is made, so bad input changes nothing.
func checkNetworkOptions(opts *CreateOptions) ([]network.PortMapping, error) {
	if opts.Network == "" || opts.Network == "default" {
		opts.Network = "bridge"
	}
	switch {
	case opts.Network == "bridge", opts.Network == "none", opts.Network == "host":
	case strings.HasPrefix(opts.Network, "container:") && len(opts.Network) > len("container:"):
	default:
		return nil, fmt.Errorf("invalid --network %q (use bridge, none, host or container:NAME)", opts.Network)
	}
	var ports []network.PortMapping
	for _, p := range opts.Publish {
		m, err := network.ParsePublish(p)
		if err != nil {
			return nil, err
		}
		ports = append(ports, m...)
	}
	if len(ports) > 0 && opts.Network != "bridge" {
		return nil, fmt.Errorf("-p publishes ports on the bridge: it cannot be used with --network %s", opts.Network)
	}
	return ports, nil
}

// setupNetwork attaches a new container: for bridge a namespace of its own wired to the
// bridge, for container:NAME a reference to that running container's namespace. It returns
// the namespace path for the spec and the address for /etc/hosts (invalid when none).
func (e *Engine) setupNetwork(ctx context.Context, st *state.Store, id, name string, opts CreateOptions, ports []network.PortMapping) (string, netip.Addr, error) {
	m, err := e.networkManager()
	if err != nil {
		return "", netip.Addr{}, err
	}
	req := network.Request{ID: id, Name: name, Owner: e.root, Ports: ports}
	if opts.Network == "bridge" {
		att, err := m.Setup(ctx, req)
		if err != nil {
			return "", netip.Addr{}, err
		}
		att.Listeners.Close() // bound to prove they are free; start binds them again for the proxy
		return att.Netns, att.IP, nil
	}
	ref := strings.TrimPrefix(opts.Network, "container:")
	target, err := e.resolve(st, ref)
	if err != nil {
		return "", netip.Addr{}, err
	}
	if target == id {
		return "", netip.Addr{}, errors.New("--network container: a container cannot join its own network")
	}
	trec, err := e.refresh(st, target)
	if err != nil {
		return "", netip.Addr{}, err
	}
	if trec.Status != state.Running {
		return "", netip.Addr{}, wrapKind(fmt.Errorf("cannot join the network of container %s: it is not running", trec.Name), ErrConflict)
	}
	src := fmt.Sprintf("/proc/%d/ns/net", trec.Pid)
	if ta, ok, err := m.Attachment(target); err == nil && ok && ta.OwnNetns {
		src = ta.Netns
	}
	att, err := m.Join(ctx, req, target, src)
	if err != nil {
		return "", netip.Addr{}, err
	}
	return att.Netns, att.IP, nil
}

// teardownNetwork removes a container's attachment: proxy, veth, rules, namespace, address.
func (e *Engine) teardownNetwork(ctx context.Context, id string) error {
	m, err := e.networkManager()
	if err != nil {
		return err
	}
	return m.Teardown(ctx, id)
}

// bindPublished binds a container's published ports before its shim starts: a port taken
// since create is a clear error here and nothing starts. Nil without published ports.
func (e *Engine) bindPublished(id, mode string) (*network.Ports, network.Attachment, error) {
	if mode != "bridge" {
		return nil, network.Attachment{}, nil
	}
	m, err := e.networkManager()
	if err != nil {
		return nil, network.Attachment{}, err
	}
	att, ok, err := m.Attachment(id)
	if err != nil || !ok || len(att.Ports) == 0 {
		return nil, att, err
	}
	ports, err := network.Bind(att.Ports)
	if err != nil {
		return nil, att, err
	}
	if err := m.Claim(id); err != nil {
		ports.Close()
		return nil, att, err
	}
	return ports, att, nil
}

// startProxy serves the bound ports on loopback for as long as the shim lives, and records the
// proxy so Remove ends it. Without it DNAT still serves the host's other addresses, so a
// failure is logged, not fatal.
func (e *Engine) startProxy(exe string, st *state.Store, att network.Attachment, ports *network.Ports, shimPid int) {
	defer ports.Close()
	pidfd, err := network.PidfdOpen(shimPid)
	if err != nil {
		e.log.Warn("port proxy not started", "id", att.ID, "err", err)
		return
	}
	defer pidfd.Close()
	logf, _ := os.OpenFile(filepath.Join(st.Dir(att.ID), "proxy.log"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if logf != nil {
		defer logf.Close()
	}
	pid, start, err := network.SpawnProxy(exe, ports, att.IP, pidfd, logf)
	if err != nil {
		e.log.Warn("port proxy not started", "id", att.ID, "err", err)
		return
	}
	if m, err := e.networkManager(); err == nil {
		if err := m.SetProxy(att.ID, pid, start); err != nil {
			e.log.Warn("record port proxy", "id", att.ID, "err", err)
		}
	}
}

// gcNetwork tears down attachments of this root whose container is gone.
func (e *Engine) gcNetwork(ctx context.Context, st *state.Store, rep *GCReport) {
	m, err := e.networkManager()
	if err != nil {
		rep.Errors = append(rep.Errors, err.Error())
		return
	}
	removed, err := m.GC(ctx, e.root, func(id string) bool {
		_, err := os.Stat(st.Dir(id))
		return err == nil
	})
	for _, id := range removed {
		rep.Removed = append(rep.Removed, "network attachment of "+id)
	}
	if err != nil {
		rep.Errors = append(rep.Errors, err.Error())
	}
}

// networkSettings fills inspect's NetworkSettings from the container's attachment.
func (e *Engine) networkSettings(id string, ns *NetworkSettings) {
	if !needsNetwork(ns.Mode) {
		return
	}
	m, err := e.networkManager()
	if err != nil {
		return
	}
	att, ok, err := m.Attachment(id)
	if err != nil || !ok {
		return
	}
	ns.SandboxKey, ns.HostVeth = att.Netns, att.HostVeth
	if att.IP.IsValid() {
		ns.IPAddress, ns.Gateway = att.IP.String(), att.Gateway.String()
	}
	for _, p := range att.Ports {
		if ns.Ports == nil {
			ns.Ports = map[string]string{}
		}
		host := "0.0.0.0"
		if p.HostIP.IsValid() {
			host = p.HostIP.String()
		}
		ns.Ports[fmt.Sprintf("%d/%s", p.ContainerPort, p.Protocol)] = fmt.Sprintf("%s:%d", host, p.HostPort)
	}
}

// NetworkInspect reports a container's network as the kernel has it: interfaces and routes
// in its namespace, its veth peer, the bridge and its NAT rules. A container without a bridge
// attachment is read through its running init's namespace.
func (e *Engine) NetworkInspect(ctx context.Context, ref string) (*network.Report, error) {
	st, id, err := e.lookup(ref)
	if err != nil {
		return nil, err
	}
	m, err := e.networkManager()
	if err != nil {
		return nil, err
	}
	if _, ok, err := m.Attachment(id); err != nil {
		return nil, err
	} else if ok {
		return m.Inspect(ctx, id)
	}
	rec, err := e.refresh(st, id)
	if err != nil {
		return nil, err
	}
	if rec.Status != state.Running {
		return nil, wrapKind(fmt.Errorf("container %s has no network namespace of glassbox's and is not running", rec.Name), ErrConflict)
	}
	return network.InspectNetns(ctx, fmt.Sprintf("/proc/%d/ns/net", rec.Pid))
}

// Networks lists this root's containers on its bridge, and the bridge's configuration.
func (e *Engine) Networks(ctx context.Context) (network.Config, []network.Attachment, error) {
	m, err := e.networkManager()
	if err != nil {
		return network.Config{}, nil, err
	}
	atts, err := m.Attachments()
	if err != nil {
		return m.Config(), nil, err
	}
	var mine []network.Attachment
	for _, a := range atts {
		if a.Owner == e.root {
			mine = append(mine, a)
		}
	}
	return m.Config(), mine, nil
}

// ConfigureNetwork sets the root's bridge (name, subnet, MTU, nftables table). The bridge's
// recorded configuration changes only while no container is attached to it.
func (e *Engine) ConfigureNetwork(ctx context.Context, cfg network.Config) (network.Config, error) {
	// The root's containers must be on the bridge the root names, or rm could not find them.
	cur, mine, err := e.Networks(ctx)
	if err != nil {
		return network.Config{}, err
	}
	if len(mine) > 0 && cur.Bridge != cfg.Bridge && cfg.Bridge != "" {
		return network.Config{}, wrapKind(fmt.Errorf("%d containers of this root are attached to %s: remove them before moving to %s", len(mine), cur.Bridge, cfg.Bridge), ErrConflict)
	}
	m, err := network.Open(network.DefaultStateDir, e.log, cfg)
	if err != nil {
		return network.Config{}, err
	}
	if err := network.WriteConfig(e.networkConfigPath(), cfg); err != nil {
		return network.Config{}, err
	}
	return m.Config(), nil
}

// RemoveNetwork deletes the root's bridge, its nftables table and its state, once no
// container (of any root) is attached.
func (e *Engine) RemoveNetwork(ctx context.Context) error {
	m, err := e.networkManager()
	if err != nil {
		return err
	}
	return m.Remove(ctx)
}

// networkMode reads a record's --network.
func networkMode(rec *state.Record) string {
	var o struct{ Network string }
	json.Unmarshal(rec.Options, &o)
	return o.Network
}
