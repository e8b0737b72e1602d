// Package network gives a container a bridged network: the glassbox0 bridge, one veth pair per
// container (the host end enslaved to the bridge, the peer created straight inside the
// container's network namespace as eth0), an address from the bridge's subnet allocated under a
// lock, a default route through the bridge, masquerade for traffic leaving the subnet, and
// published ports (DNAT in an nftables table of glassbox's own, plus a small userland proxy for
// 127.0.0.1, which DNAT cannot reach because the kernel drops loopback-sourced packets routed
// off the host unless route_localnet is set; docker's docker-proxy exists for the same reason).
//
// The API, as the lifecycle code calls it:
//
//	m, err := network.Open(root, log, network.Config{})  // state under root/network, flock'd
//	att, err := m.Setup(ctx, network.Request{ID: id, Name: name, Pid: pid, Ports: ports})
//	// att.IP goes into /etc/hosts (network.Hosts), network.ResolvConf makes /etc/resolv.conf.
//	// att.Ports holds the bound host ports: pass att.Ports.Files() to the shim, which calls
//	// network.PortsFromFiles and network.Serve (the loopback proxy) for the container's life;
//	// or call att.Ports.Close() if the proxy is not wanted.
//	err = m.Teardown(ctx, id)                             // on rm, on --rm; idempotent
//	removed, err := m.GC(ctx, func(id string) bool {...}) // after a crash
//	rep, err := m.Inspect(ctx, idOrName)                  // what `glassbox network inspect` prints
//	rep, err := network.InspectNetns(ctx, path)           // any namespace, glassbox's or not
//
// Setup binds every published host port before it changes anything, so a port in use is a
// clear error that leaves no link, address, rule or allocation behind. Every nftables rule
// carries a comment "glassbox:<container ID> ..." (visible in `nft list table ip glassbox`), which
// is how Teardown and GC find a container's rules; the package never touches another table.
//
// Names: the bridge is Config.Bridge (default glassbox0), the subnet Config.Subnet (default
// 172.31.240.0/20: inside private space, away from docker's 172.17/16 and podman's 10.88/16),
// the nftables table Config.Table (default glassbox), host veth ends "gb" + 11 hex digits of a
// hash of bridge and container ID, the container end always eth0.
package network
