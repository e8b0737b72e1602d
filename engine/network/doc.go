// Package network gives a container a bridged network: the glassbox0 bridge, one veth pair per
// container (the host end enslaved to the bridge, the peer created straight inside the
// container's network namespace as eth0), an address from the bridge's subnet allocated under a
// lock, a default route through the bridge, masquerade for traffic leaving the subnet, and
// published ports (DNAT in an nftables table of glassbox's own, or iptables chains of its own
// where the kernel has no nf_tables, plus a small userland proxy for 127.0.0.1, which DNAT
// cannot reach because the kernel drops loopback-sourced packets routed off the host unless
// route_localnet is set; docker's docker-proxy exists for the same reason).
//
// The container's network namespace is made here, before its init exists, and bind-mounted at
// NetnsPath(id); the engine writes that path into config.json and the OCI runtime joins it
// (see netns.go for why this, and not configuring the init's namespace by PID).
//
// The API, as the engine calls it:
//
//	m, err := network.Open(network.DefaultStateDir, log, cfg) // state per bridge, flock'd
//	att, err := m.Setup(ctx, network.Request{ID: id, Name: name, Owner: root, Ports: ports})
//	// att.Netns goes into config.json, att.IP into /etc/hosts (network.Hosts);
//	// network.ResolvConf makes /etc/resolv.conf.
//	att, err = m.Join(ctx, req, targetID, targetNetns)      // --network container:NAME
//	// At each start: network.Bind(att.Ports), m.Claim(id), then network.SpawnProxy with a
//	// pidfd of the shim, and m.SetProxy; the proxy ends with the shim.
//	err = m.Teardown(ctx, id)                               // on rm, on --rm; idempotent
//	removed, err := m.GC(ctx, root, func(id string) bool {...}) // after a crash
//	rep, err := m.Inspect(ctx, id)                          // `glassbox network inspect`
//	rep, err := network.InspectNetns(ctx, path)             // any namespace, glassbox's or not
//
// Setup binds every published host port before it changes anything, so a port in use is a
// clear error that leaves no link, address, rule or allocation behind; the attachment is
// recorded before the kernel is touched, so a setup cut off half-way is finished by Teardown
// or GC. Every NAT rule carries a comment "glassbox:<container ID> ..." (visible in `nft list
// table ip glassbox`), which is how Teardown and GC find a container's rules; the package never
// touches another nftables table, nor any link it did not make.
//
// Names: the bridge is Config.Bridge (default glassbox0), the subnet Config.Subnet (default
// 172.31.240.0/20: inside private space, away from docker's 172.17/16 and podman's 10.88/16;
// a subnet that overlaps a host route is refused), the nftables table Config.Table (default
// glassbox, or the bridge's name for another bridge), host veth ends "gb" + 11 hex digits of a
// hash of bridge and container ID, the container end always eth0.
package network
