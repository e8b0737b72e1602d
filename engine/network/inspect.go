package network

import (
	"context"
	"fmt"
	"io"
	"net"
	"strings"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// Report is what the kernel says about a container's network, read live: the interfaces and
// routes inside its namespace, each veth's peer on the host, the bridge, and its NAT rules.
type Report struct {
	Attachment *Attachment `json:"attachment,omitempty"` // nil for a namespace glassbox did not attach
	Netns      string      `json:"netns"`
	Interfaces []Interface `json:"interfaces"`
	Routes     []Route     `json:"routes"`
	HostPeers  []Interface `json:"hostPeers,omitempty"` // the host ends of the namespace's veths
	Bridge     *Interface  `json:"bridge,omitempty"`
	Rules      []NATRule   `json:"natRules,omitempty"`
	RulesIn    string      `json:"natRulesIn,omitempty"` // "nftables table ip glassbox", "iptables nat chains GLASSBOX-*"
}

// Interface is one link as netlink reports it.
type Interface struct {
	Index     int      `json:"index"`
	Name      string   `json:"name"`
	Kind      string   `json:"kind"`
	MAC       string   `json:"mac,omitempty"`
	MTU       int      `json:"mtu"`
	State     string   `json:"state"`
	Addrs     []string `json:"addrs,omitempty"`
	Master    string   `json:"master,omitempty"`
	PeerIndex int      `json:"peerIndex,omitempty"` // IFLA_LINK: a veth's peer, in the other namespace
}

// Route is one main-table IPv4 route.
type Route struct {
	Dst     string `json:"dst"`
	Gateway string `json:"gateway,omitempty"`
	Dev     string `json:"dev"`
	Src     string `json:"src,omitempty"`
}

// NATRule is one of glassbox's nftables rules with its live counters.
type NATRule = natRule

// Inspect reports the attachment of a container, by ID, unique ID prefix or name.
func (m *Manager) Inspect(ctx context.Context, ref string) (*Report, error) {
	atts, err := m.Attachments()
	if err != nil {
		return nil, err
	}
	var found []Attachment
	for _, a := range atts {
		if a.ID == ref || a.Name == ref {
			found = []Attachment{a}
			break
		}
		if strings.HasPrefix(a.ID, ref) {
			found = append(found, a)
		}
	}
	switch len(found) {
	case 0:
		return nil, fmt.Errorf("no container %q on network %s", ref, m.cfg.Bridge)
	case 1:
	default:
		return nil, fmt.Errorf("container reference %q is ambiguous on network %s", ref, m.cfg.Bridge)
	}
	a := found[0]
	rep, err := InspectNetns(ctx, a.Netns)
	if err != nil {
		return nil, err
	}
	rep.Attachment = &a
	if br, err := netlink.LinkByName(a.Bridge); err == nil {
		i := toInterface(br, netlink.FAMILY_V4, nil)
		rep.Bridge = &i
	}
	n, err := newNAT(m.cfg)
	if err != nil {
		return nil, err
	}
	if rep.Rules, err = n.containerRules(a.ID); err != nil {
		return nil, err
	}
	bridgeRules, err := n.bridgeRules()
	if err != nil {
		return nil, err
	}
	rep.Rules = append(rep.Rules, bridgeRules...)
	rep.RulesIn = n.String()
	return rep, nil
}

// InspectNetns reports any network namespace by path (/proc/PID/ns/net, /run/netns/NAME).
func InspectNetns(ctx context.Context, path string) (*Report, error) {
	ns, err := netns.GetFromPath(path)
	if err != nil {
		return nil, fmt.Errorf("open network namespace %s: %w", path, err)
	}
	defer ns.Close()
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		return nil, fmt.Errorf("netlink socket in %s: %w", path, err)
	}
	defer h.Close()
	links, err := h.LinkList()
	if err != nil {
		return nil, fmt.Errorf("list links in %s: %w", path, err)
	}
	rep := &Report{Netns: path}
	names := map[int]string{}
	for _, l := range links {
		names[l.Attrs().Index] = l.Attrs().Name
	}
	for _, l := range links {
		rep.Interfaces = append(rep.Interfaces, toInterface(l, netlink.FAMILY_V4, h))
		if l.Type() != "veth" || l.Attrs().ParentIndex == 0 {
			continue
		}
		// IFLA_LINK of a veth names its peer's index in the peer's namespace; for a container
		// that is the host. Check it is a veth whose peer points back, or skip it.
		peer, err := netlink.LinkByIndex(l.Attrs().ParentIndex)
		if err == nil && peer.Type() == "veth" && peer.Attrs().ParentIndex == l.Attrs().Index {
			rep.HostPeers = append(rep.HostPeers, toInterface(peer, netlink.FAMILY_V4, nil))
		}
	}
	routes, err := h.RouteList(nil, netlink.FAMILY_V4)
	if err != nil {
		return nil, fmt.Errorf("list routes in %s: %w", path, err)
	}
	for _, r := range routes {
		rt := Route{Dst: "default", Dev: names[r.LinkIndex]}
		if ones, _ := maskSize(r.Dst); r.Dst != nil && ones > 0 {
			rt.Dst = r.Dst.String()
		}
		if r.Gw != nil {
			rt.Gateway = r.Gw.String()
		}
		if r.Src != nil {
			rt.Src = r.Src.String()
		}
		rep.Routes = append(rep.Routes, rt)
	}
	return rep, nil
}

// toInterface reads a link's facts; h nil means the host's namespace.
func toInterface(l netlink.Link, family int, h *netlink.Handle) Interface {
	a := l.Attrs()
	i := Interface{Index: a.Index, Name: a.Name, Kind: l.Type(), MTU: a.MTU,
		State: strings.ToUpper(a.OperState.String()), PeerIndex: 0}
	if l.Type() == "veth" {
		i.PeerIndex = a.ParentIndex
	}
	if len(a.HardwareAddr) > 0 {
		i.MAC = a.HardwareAddr.String()
	}
	if a.Flags&(1<<0) == 0 { // net.FlagUp
		i.State = "DOWN"
	}
	var addrs []netlink.Addr
	var err error
	if h != nil {
		addrs, err = h.AddrList(l, family)
	} else {
		addrs, err = netlink.AddrList(l, family)
	}
	if err == nil {
		for _, ad := range addrs {
			i.Addrs = append(i.Addrs, ad.IPNet.String())
		}
	}
	if a.MasterIndex != 0 && h == nil {
		if m, err := netlink.LinkByIndex(a.MasterIndex); err == nil {
			i.Master = m.Attrs().Name
		}
	}
	return i
}

// Format writes the report as `glassbox network inspect` prints it.
func (r *Report) Format(w io.Writer) error {
	var b strings.Builder
	if a := r.Attachment; a != nil {
		fmt.Fprintf(&b, "container  %s", a.ID)
		if a.Name != "" {
			fmt.Fprintf(&b, " (%s)", a.Name)
		}
		b.WriteByte('\n')
		if a.Joined != "" {
			fmt.Fprintf(&b, "joined     the network namespace of container %s\n", short(a.Joined))
		}
		if a.IP.IsValid() {
			fmt.Fprintf(&b, "address    %s/%d via %s on bridge %s\n", a.IP, a.Prefix, a.Gateway, a.Bridge)
		}
		for _, p := range a.Ports {
			fmt.Fprintf(&b, "publish    %s\n", p)
		}
	}
	fmt.Fprintf(&b, "netns      %s\n\ninterfaces (inside)\n", r.Netns)
	for _, i := range r.Interfaces {
		writeInterface(&b, i)
	}
	b.WriteString("\nroutes (inside)\n")
	for _, rt := range r.Routes {
		fmt.Fprintf(&b, "  %-18s", rt.Dst)
		if rt.Gateway != "" {
			fmt.Fprintf(&b, " via %s", rt.Gateway)
		}
		fmt.Fprintf(&b, " dev %s", rt.Dev)
		if rt.Src != "" {
			fmt.Fprintf(&b, " src %s", rt.Src)
		}
		b.WriteByte('\n')
	}
	if len(r.HostPeers) > 0 {
		b.WriteString("\nveth peers (host)\n")
		for _, i := range r.HostPeers {
			writeInterface(&b, i)
		}
	}
	if r.Bridge != nil {
		b.WriteString("\nbridge (host)\n")
		writeInterface(&b, *r.Bridge)
	}
	if len(r.Rules) > 0 {
		fmt.Fprintf(&b, "\nNAT rules in %s (this container's and the bridge's)\n", r.RulesIn)
		for _, rule := range r.Rules {
			fmt.Fprintf(&b, "  %-11s handle %-4d packets %-6d bytes %-8d %s\n", rule.Chain, rule.Handle,
				rule.Packets, rule.Bytes, strings.TrimPrefix(rule.Comment, commentPrefix))
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func writeInterface(b *strings.Builder, i Interface) {
	fmt.Fprintf(b, "  %d: %-15s %-7s %-5s mtu %d", i.Index, i.Name, i.Kind, i.State, i.MTU)
	if i.MAC != "" {
		fmt.Fprintf(b, " %s", i.MAC)
	}
	if i.Master != "" {
		fmt.Fprintf(b, " master %s", i.Master)
	}
	if i.PeerIndex != 0 {
		fmt.Fprintf(b, " peer ifindex %d", i.PeerIndex)
	}
	for _, a := range i.Addrs {
		fmt.Fprintf(b, " %s", a)
	}
	b.WriteByte('\n')
}

func maskSize(n *net.IPNet) (int, int) {
	if n == nil {
		return 0, 0
	}
	return n.Mask.Size()
}
