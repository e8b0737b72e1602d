package network

import (
	"bufio"
	"bytes"
	"fmt"
	"net/netip"
	"strings"
)

// fallbackNameservers are used when the host lists only loopback resolvers (systemd-resolved's
// 127.0.0.53, a local dnsmasq) which a container in its own network namespace cannot reach;
// docker falls back to the same two.
var fallbackNameservers = []string{"8.8.8.8", "8.8.4.4"}

// ResolvConf makes a container's /etc/resolv.conf from the host's: loopback nameservers are
// dropped (in the container's namespace 127.0.0.1 is the container itself), search and
// options lines kept. With no nameserver left it adds the public fallbacks.
func ResolvConf(hostResolv []byte) []byte {
	var out bytes.Buffer
	nameservers := 0
	sc := bufio.NewScanner(bytes.NewReader(hostResolv))
	for sc.Scan() {
		line := sc.Text()
		fields := strings.Fields(line)
		if len(fields) >= 2 && fields[0] == "nameserver" {
			addr, err := netip.ParseAddr(strings.SplitN(fields[1], "%", 2)[0])
			if err != nil || addr.IsLoopback() {
				continue
			}
			nameservers++
		}
		out.WriteString(line)
		out.WriteByte('\n')
	}
	if nameservers == 0 {
		out.WriteString("# glassbox: the host's nameservers are loopback-only or missing; public fallbacks\n")
		for _, ns := range fallbackNameservers {
			fmt.Fprintf(&out, "nameserver %s\n", ns)
		}
	}
	return out.Bytes()
}

// Hosts makes a container's /etc/hosts: loopback names, the IPv6 standard entries, and the
// container's name (its hostname) at its address. An invalid ip (no network) maps the name to
// 127.0.1.1 instead, as Debian does for a host without a fixed address.
func Hosts(name string, ip netip.Addr) []byte {
	var b bytes.Buffer
	b.WriteString("127.0.0.1\tlocalhost\n")
	b.WriteString("::1\tlocalhost ip6-localhost ip6-loopback\n")
	b.WriteString("fe00::0\tip6-localnet\n")
	b.WriteString("ff00::0\tip6-mcastprefix\n")
	b.WriteString("ff02::1\tip6-allnodes\n")
	b.WriteString("ff02::2\tip6-allrouters\n")
	if name != "" {
		if ip.IsValid() {
			fmt.Fprintf(&b, "%s\t%s\n", ip, name)
		} else {
			fmt.Fprintf(&b, "127.0.1.1\t%s\n", name)
		}
	}
	return b.Bytes()
}
