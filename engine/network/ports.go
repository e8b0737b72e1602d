package network

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// PortMapping publishes a container port on the host, as docker's -p does.
type PortMapping struct {
	HostIP        netip.Addr `json:"hostIP,omitzero"` // unset: every host address
	HostPort      uint16     `json:"hostPort"`
	ContainerPort uint16     `json:"containerPort"`
	Protocol      string     `json:"protocol"` // "tcp" or "udp"
}

func (p PortMapping) String() string {
	host := ""
	if p.HostIP.IsValid() {
		host = p.HostIP.String() + ":"
	}
	return fmt.Sprintf("%s%d->%d/%s", host, p.HostPort, p.ContainerPort, p.Protocol)
}

// hostAddr is the address the host port binds: HostIP or 0.0.0.0.
func (p PortMapping) hostAddr() string {
	ip := netip.IPv4Unspecified()
	if p.HostIP.IsValid() {
		ip = p.HostIP
	}
	return netip.AddrPortFrom(ip, p.HostPort).String()
}

// ParsePublish parses one -p value: [IP:]HOSTPORT:CONTAINERPORT[/tcp|/udp], where either port
// may be a range START-END of equal length ("8080-8081:80-81"). It returns one mapping a port.
func ParsePublish(s string) ([]PortMapping, error) {
	bad := func(why string) ([]PortMapping, error) {
		return nil, fmt.Errorf("invalid publish spec %q: %s", s, why)
	}
	spec, proto, hasProto := strings.Cut(s, "/")
	if !hasProto {
		proto = "tcp"
	}
	proto = strings.ToLower(proto)
	if proto != "tcp" && proto != "udp" {
		return bad("protocol must be tcp or udp")
	}
	// The container port is after the last colon, the host port before it, the IP before that.
	i := strings.LastIndex(spec, ":")
	if i < 0 {
		return bad("want [IP:]HOSTPORT:CONTAINERPORT (publishing on a random host port is not supported)")
	}
	hostPart, ctrPart := spec[:i], spec[i+1:]
	var hostIP netip.Addr
	if j := strings.LastIndex(hostPart, ":"); j >= 0 {
		ipText := strings.TrimSuffix(strings.TrimPrefix(hostPart[:j], "["), "]")
		ip, err := netip.ParseAddr(ipText)
		if err != nil {
			return bad("host IP " + strconv.Quote(ipText) + " is not an address")
		}
		if !ip.Is4() {
			return bad("only IPv4 host addresses are supported")
		}
		if !ip.IsUnspecified() {
			hostIP = ip
		}
		hostPart = hostPart[j+1:]
	}
	hostLo, hostHi, err := parsePortRange(hostPart)
	if err != nil {
		return bad("host port: " + err.Error())
	}
	ctrLo, ctrHi, err := parsePortRange(ctrPart)
	if err != nil {
		return bad("container port: " + err.Error())
	}
	if hostHi-hostLo != ctrHi-ctrLo {
		return bad("host and container port ranges differ in length")
	}
	var out []PortMapping
	for k := 0; k <= int(hostHi-hostLo); k++ {
		out = append(out, PortMapping{HostIP: hostIP, HostPort: hostLo + uint16(k),
			ContainerPort: ctrLo + uint16(k), Protocol: proto})
	}
	return out, nil
}

func parsePortRange(s string) (lo, hi uint16, err error) {
	a, b, isRange := strings.Cut(s, "-")
	if lo, err = parsePort(a); err != nil {
		return 0, 0, err
	}
	hi = lo
	if isRange {
		if hi, err = parsePort(b); err != nil {
			return 0, 0, err
		}
		if hi < lo {
			return 0, 0, fmt.Errorf("range %s ends before it starts", s)
		}
	}
	return lo, hi, nil
}

func parsePort(s string) (uint16, error) {
	n, err := strconv.ParseUint(s, 10, 16)
	if err != nil || n == 0 {
		return 0, fmt.Errorf("%q is not a port number (1-65535)", s)
	}
	return uint16(n), nil
}

// Ports are a container's published host ports, bound: holding them is what keeps another
// program from taking a port between Setup and the container's end, and they are what the
// loopback proxy serves.
type Ports struct {
	Mappings []PortMapping
	tcp      map[int]*net.TCPListener // by index in Mappings
	udp      map[int]*net.UDPConn
}

// Bind binds every mapping's host port (HostIP or 0.0.0.0). A port in use fails the whole call
// with an error naming it, and nothing stays bound.
func Bind(mappings []PortMapping) (*Ports, error) {
	p := &Ports{Mappings: mappings, tcp: map[int]*net.TCPListener{}, udp: map[int]*net.UDPConn{}}
	seen := map[string]bool{}
	for i, m := range mappings {
		key := m.hostAddr() + "/" + m.Protocol
		if seen[key] {
			p.Close()
			return nil, fmt.Errorf("port %s is published twice", key)
		}
		seen[key] = true
		switch m.Protocol {
		case "tcp":
			addr, _ := net.ResolveTCPAddr("tcp4", m.hostAddr())
			l, err := net.ListenTCP("tcp4", addr)
			if err != nil {
				p.Close()
				return nil, portInUse(m, err)
			}
			p.tcp[i] = l
		case "udp":
			addr, _ := net.ResolveUDPAddr("udp4", m.hostAddr())
			c, err := net.ListenUDP("udp4", addr)
			if err != nil {
				p.Close()
				return nil, portInUse(m, err)
			}
			p.udp[i] = c
		default:
			p.Close()
			return nil, fmt.Errorf("publish %s: unknown protocol %q", m, m.Protocol)
		}
	}
	return p, nil
}

func portInUse(m PortMapping, err error) error {
	if errors.Is(err, unix.EADDRINUSE) {
		return fmt.Errorf("publish %s: host port %s/%s is already in use", m, m.hostAddr(), m.Protocol)
	}
	return fmt.Errorf("publish %s: bind %s/%s: %w", m, m.hostAddr(), m.Protocol, err)
}

// Close releases every bound port. It is safe on nil.
func (p *Ports) Close() error {
	if p == nil {
		return nil
	}
	var errs []error
	for _, l := range p.tcp {
		errs = append(errs, l.Close())
	}
	for _, c := range p.udp {
		errs = append(errs, c.Close())
	}
	return errors.Join(errs...)
}

// Files duplicates the bound sockets as files in Mappings' order, to hand to another process
// (the shim) as extra files; PortsFromFiles there rebuilds the Ports. The caller closes them.
func (p *Ports) Files() ([]*os.File, error) {
	var files []*os.File
	for i := range p.Mappings {
		var f *os.File
		var err error
		if l, ok := p.tcp[i]; ok {
			f, err = l.File()
		} else {
			f, err = p.udp[i].File()
		}
		if err != nil {
			for _, f := range files {
				f.Close()
			}
			return nil, fmt.Errorf("dup published socket %s: %w", p.Mappings[i], err)
		}
		files = append(files, f)
	}
	return files, nil
}

// PortsFromFiles rebuilds Ports from the files Files made, in the same order as mappings.
func PortsFromFiles(mappings []PortMapping, files []*os.File) (*Ports, error) {
	if len(files) != len(mappings) {
		return nil, fmt.Errorf("published ports: %d sockets for %d mappings", len(files), len(mappings))
	}
	p := &Ports{Mappings: mappings, tcp: map[int]*net.TCPListener{}, udp: map[int]*net.UDPConn{}}
	for i, m := range mappings {
		var err error
		if m.Protocol == "tcp" {
			var l net.Listener
			if l, err = net.FileListener(files[i]); err == nil {
				p.tcp[i] = l.(*net.TCPListener)
			}
		} else {
			var c net.PacketConn
			if c, err = net.FilePacketConn(files[i]); err == nil {
				p.udp[i] = c.(*net.UDPConn)
			}
		}
		if err != nil {
			p.Close()
			return nil, fmt.Errorf("published socket %s: %w", m, err)
		}
	}
	return p, nil
}
