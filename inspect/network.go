package inspect

import (
	"fmt"
	"net"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// Interface is one network device in a namespace.
type Interface struct {
	Index int      `json:"index"`
	Name  string   `json:"name"`
	Type  string   `json:"type"` // netlink's kind: device, veth, bridge, ...
	MAC   string   `json:"mac,omitempty"`
	MTU   int      `json:"mtu"`
	Up    bool     `json:"up"`
	State string   `json:"operState"`
	Addrs []string `json:"addrs"` // CIDR form
	// Master is the device this one is enslaved to (a bridge), by name.
	Master string `json:"master,omitempty"`
	// PeerIndex is a veth's peer's ifindex in the peer's namespace (IFLA_LINK); HostPeer is
	// that peer's name when it is in our (the host's) namespace.
	PeerIndex int    `json:"peerIndex,omitempty"`
	HostPeer  string `json:"hostPeer,omitempty"`
	RxBytes   uint64 `json:"rxBytes"`
	TxBytes   uint64 `json:"txBytes"`
}

// Route is one route of the main table.
type Route struct {
	Dst      string `json:"dst"` // "default" for 0.0.0.0/0 and ::/0
	Gateway  string `json:"gateway,omitempty"`
	Dev      string `json:"dev,omitempty"`
	Src      string `json:"src,omitempty"`
	Protocol string `json:"protocol,omitempty"`
	Scope    string `json:"scope"`
}

// Network is what a network namespace holds.
type Network struct {
	Inode      uint64      `json:"netns"`
	Host       bool        `json:"host"`
	Interfaces []Interface `json:"interfaces"`
	Routes     []Route     `json:"routes"`
}

// Network reads the interfaces, addresses and routes of pid's network namespace over netlink.
// netlink.NewHandleAt opens its socket inside the namespace on a locked OS thread and returns
// the thread to ours, so no goroutine of ours is left in another namespace.
func (h Host) Network(pid int) (*Network, error) {
	ino, err := h.nsInode(pid, "net")
	if err != nil {
		return nil, err
	}
	host := h.hostNamespaces()
	nsh, err := netns.GetFromPath(h.procPath(pid, "ns/net"))
	if err != nil {
		return nil, fmt.Errorf("open /proc/%d/ns/net: %w", pid, err)
	}
	defer nsh.Close()
	nl, err := netlink.NewHandleAt(nsh)
	if err != nil {
		return nil, fmt.Errorf("netlink socket in net namespace of %d: %w", pid, err)
	}
	defer nl.Close()
	out := &Network{Inode: ino, Host: host["net"] == ino, Interfaces: []Interface{}, Routes: []Route{}}
	links, err := nl.LinkList()
	if err != nil {
		return nil, fmt.Errorf("list links of %d: %w", pid, err)
	}
	names := map[int]string{}
	for _, l := range links {
		names[l.Attrs().Index] = l.Attrs().Name
	}
	var hostLinks []netlink.Link
	if !out.Host {
		hostLinks, _ = netlink.LinkList() // our namespace, to find veth peers
	}
	for _, l := range links {
		a := l.Attrs()
		ifc := Interface{Index: a.Index, Name: a.Name, Type: l.Type(), MTU: a.MTU,
			Up: a.Flags&net.FlagUp != 0, State: a.OperState.String(), Master: names[a.MasterIndex],
			Addrs: []string{}}
		if len(a.HardwareAddr) > 0 {
			ifc.MAC = a.HardwareAddr.String()
		}
		if a.Statistics != nil {
			ifc.RxBytes, ifc.TxBytes = a.Statistics.RxBytes, a.Statistics.TxBytes
		}
		if l.Type() == "veth" {
			ifc.PeerIndex = a.ParentIndex
			for _, hl := range hostLinks {
				ha := hl.Attrs()
				if hl.Type() == "veth" && ha.Index == a.ParentIndex && ha.ParentIndex == a.Index {
					ifc.HostPeer = ha.Name
				}
			}
		}
		addrs, err := nl.AddrList(l, netlink.FAMILY_ALL)
		if err != nil {
			return nil, fmt.Errorf("list addresses of %s in %d: %w", a.Name, pid, err)
		}
		for _, ad := range addrs {
			ifc.Addrs = append(ifc.Addrs, ad.IPNet.String())
		}
		out.Interfaces = append(out.Interfaces, ifc)
	}
	routes, err := nl.RouteList(nil, netlink.FAMILY_ALL)
	if err != nil {
		return nil, fmt.Errorf("list routes of %d: %w", pid, err)
	}
	for _, r := range routes {
		rt := Route{Dst: "default", Dev: names[r.LinkIndex], Scope: r.Scope.String(), Protocol: r.Protocol.String()}
		if r.Dst != nil {
			if ones, _ := r.Dst.Mask.Size(); ones != 0 || !r.Dst.IP.IsUnspecified() {
				rt.Dst = r.Dst.String()
			}
		}
		if r.Gw != nil {
			rt.Gateway = r.Gw.String()
		}
		if r.Src != nil {
			rt.Src = r.Src.String()
		}
		out.Routes = append(out.Routes, rt)
	}
	return out, nil
}
