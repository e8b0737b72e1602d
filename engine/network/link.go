package network

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// containerIfName is the container end of the veth pair, as every runtime names it.
const containerIfName = "eth0"

// ensureBridge creates the bridge when it is missing, gives it the gateway address and brings
// it up. An existing bridge is reused as it is, its MTU included.
func ensureBridge(cfg Config) (netlink.Link, error) {
	br, err := netlink.LinkByName(cfg.Bridge)
	var notFound netlink.LinkNotFoundError
	if errors.As(err, &notFound) {
		if err := checkSubnetFree(cfg.Subnet); err != nil {
			return nil, err
		}
		attrs := netlink.NewLinkAttrs()
		attrs.Name = cfg.Bridge
		attrs.MTU = cfg.MTU
		if err := netlink.LinkAdd(&netlink.Bridge{LinkAttrs: attrs}); err != nil && !errors.Is(err, unix.EEXIST) {
			return nil, fmt.Errorf("create bridge %s: %w", cfg.Bridge, err)
		}
		br, err = netlink.LinkByName(cfg.Bridge)
	}
	if err != nil {
		return nil, fmt.Errorf("find bridge %s: %w", cfg.Bridge, err)
	}
	if br.Type() != "bridge" {
		return nil, fmt.Errorf("%s exists and is a %s, not a bridge", cfg.Bridge, br.Type())
	}
	gw := &netlink.Addr{IPNet: ipNet(cfg.Gateway(), cfg.Subnet.Bits())}
	if err := netlink.AddrReplace(br, gw); err != nil {
		return nil, fmt.Errorf("add address %s to bridge %s: %w", gw.IPNet, cfg.Bridge, err)
	}
	if err := netlink.LinkSetUp(br); err != nil {
		return nil, fmt.Errorf("set bridge %s up: %w", cfg.Bridge, err)
	}
	return br, nil
}

// checkSubnetFree refuses a subnet that overlaps a route the host has already (a LAN, a VPN,
// another runtime's bridge): the bridge's connected route would steal that traffic.
func checkSubnetFree(sub netip.Prefix) error {
	routes, err := netlink.RouteList(nil, netlink.FAMILY_V4)
	if err != nil {
		return fmt.Errorf("list routes: %w", err)
	}
	for _, r := range routes {
		if r.Dst == nil {
			continue
		}
		ones, _ := r.Dst.Mask.Size()
		ip, ok := netip.AddrFromSlice(r.Dst.IP.To4())
		if !ok || ones == 0 {
			continue
		}
		if p := netip.PrefixFrom(ip, ones); p.Overlaps(sub) {
			dev := ""
			if l, err := netlink.LinkByIndex(r.LinkIndex); err == nil {
				dev = " dev " + l.Attrs().Name
			}
			return fmt.Errorf("subnet %s overlaps the host's route %s%s: choose another with glassbox network config --subnet", sub, p, dev)
		}
	}
	return nil
}

// removeBridge deletes the bridge; a missing bridge is not an error.
func removeBridge(name string) error {
	br, err := netlink.LinkByName(name)
	var notFound netlink.LinkNotFoundError
	if errors.As(err, &notFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("find bridge %s: %w", name, err)
	}
	if err := netlink.LinkDel(br); err != nil {
		return fmt.Errorf("delete bridge %s: %w", name, err)
	}
	return nil
}

// createVeth makes the veth pair with its peer born inside the container's namespace as eth0
// (IFLA_NET_NS_FD on the peer: no rename, no moment with two eth0s on the host), the host
// end enslaved to the bridge and up.
func createVeth(a *Attachment, br netlink.Link, ns netns.NsHandle) error {
	attrs := netlink.NewLinkAttrs()
	attrs.Name = a.HostVeth
	attrs.MTU = a.MTU
	attrs.MasterIndex = br.Attrs().Index
	veth := &netlink.Veth{LinkAttrs: attrs, PeerName: containerIfName, PeerNamespace: netlink.NsFd(int(ns))}
	if err := netlink.LinkAdd(veth); err != nil {
		return fmt.Errorf("create veth pair %s/%s: %w", a.HostVeth, containerIfName, err)
	}
	if err := netlink.LinkSetUp(veth); err != nil {
		return fmt.Errorf("set %s up: %w", a.HostVeth, err)
	}
	return nil
}

// configureContainerSide runs inside the namespace through a netlink socket opened there
// (netlink.NewHandleAt), so no OS thread has to switch namespaces: lo up, eth0's address,
// eth0 up, the default route through the gateway.
func configureContainerSide(a *Attachment, ns netns.NsHandle) error {
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		return fmt.Errorf("netlink socket in %s: %w", a.Netns, err)
	}
	defer h.Close()
	lo, err := h.LinkByName("lo")
	if err != nil {
		return fmt.Errorf("find lo in %s: %w", a.Netns, err)
	}
	if err := h.LinkSetUp(lo); err != nil {
		return fmt.Errorf("set lo up in %s: %w", a.Netns, err)
	}
	eth, err := h.LinkByName(containerIfName)
	if err != nil {
		return fmt.Errorf("find %s in %s: %w", containerIfName, a.Netns, err)
	}
	addr := &netlink.Addr{IPNet: ipNet(a.IP, a.Prefix)}
	if err := h.AddrAdd(eth, addr); err != nil {
		return fmt.Errorf("add address %s to %s: %w", addr.IPNet, containerIfName, err)
	}
	if err := h.LinkSetUp(eth); err != nil {
		return fmt.Errorf("set %s up: %w", containerIfName, err)
	}
	route := &netlink.Route{LinkIndex: eth.Attrs().Index, Gw: a.Gateway.AsSlice(), Dst: nil}
	if err := h.RouteAdd(route); err != nil {
		return fmt.Errorf("add default route via %s: %w", a.Gateway, err)
	}
	return nil
}

// deleteVeth removes the host end; the kernel removes its peer with it. Missing is fine.
func deleteVeth(name string) error {
	l, err := netlink.LinkByName(name)
	var notFound netlink.LinkNotFoundError
	if errors.As(err, &notFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("find %s: %w", name, err)
	}
	if err := netlink.LinkDel(l); err != nil && !errors.Is(err, unix.ENODEV) {
		return fmt.Errorf("delete veth %s: %w", name, err)
	}
	return nil
}

// enableForwarding turns on IPv4 forwarding, which masquerade needs for traffic to leave the
// host (Documentation/networking/ip-sysctl.rst, ip_forward). It writes only when it is off.
func enableForwarding() (bool, error) {
	const path = "/proc/sys/net/ipv4/ip_forward"
	b, err := os.ReadFile(path)
	if err != nil {
		return false, fmt.Errorf("read %s: %w", path, err)
	}
	if len(b) > 0 && b[0] == '1' {
		return false, nil
	}
	if err := os.WriteFile(path, []byte("1\n"), 0o644); err != nil {
		return false, fmt.Errorf("write %s: %w", path, err)
	}
	return true, nil
}

func ipNet(ip netip.Addr, bits int) *net.IPNet {
	return &net.IPNet{IP: ip.AsSlice(), Mask: net.CIDRMask(bits, 32)}
}
