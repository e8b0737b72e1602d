package network

import (
	"net/netip"
	"reflect"
	"strings"
	"testing"
)

func TestParsePublish(t *testing.T) {
	lo := netip.MustParseAddr("127.0.0.1")
	tests := []struct {
		in   string
		want []PortMapping
		err  string
	}{
		{in: "8080:80", want: []PortMapping{{HostPort: 8080, ContainerPort: 80, Protocol: "tcp"}}},
		{in: "8080:80/udp", want: []PortMapping{{HostPort: 8080, ContainerPort: 80, Protocol: "udp"}}},
		{in: "8080:80/TCP", want: []PortMapping{{HostPort: 8080, ContainerPort: 80, Protocol: "tcp"}}},
		{in: "127.0.0.1:8080:80", want: []PortMapping{{HostIP: lo, HostPort: 8080, ContainerPort: 80, Protocol: "tcp"}}},
		{in: "0.0.0.0:53:53/udp", want: []PortMapping{{HostPort: 53, ContainerPort: 53, Protocol: "udp"}}},
		{in: "9000-9001:80-81", want: []PortMapping{
			{HostPort: 9000, ContainerPort: 80, Protocol: "tcp"},
			{HostPort: 9001, ContainerPort: 81, Protocol: "tcp"}}},
		{in: "80", err: "HOSTPORT:CONTAINERPORT"},
		{in: "8080:80/sctp", err: "protocol"},
		{in: "0:80", err: "host port"},
		{in: "8080:70000", err: "container port"},
		{in: "8080:http", err: "container port"},
		{in: "nothere:8080:80", err: "not an address"},
		{in: "[::1]:8080:80", err: "IPv4"},
		{in: "9000-9002:80-81", err: "differ in length"},
		{in: "9002-9000:80-78", err: "ends before"},
	}
	for _, tt := range tests {
		got, err := ParsePublish(tt.in)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) || !strings.Contains(err.Error(), tt.in) {
				t.Errorf("ParsePublish(%q) = %v, %v; want an error naming the spec and %q", tt.in, got, err, tt.err)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("ParsePublish(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
		}
	}
}

func TestResolvConf(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"drops loopback keeps the rest",
			"# generated\nnameserver 127.0.0.53\nnameserver 10.0.0.2\nsearch corp.example\noptions edns0 trust-ad\n",
			"# generated\nnameserver 10.0.0.2\nsearch corp.example\noptions edns0 trust-ad\n"},
		{"ipv6 loopback and zone",
			"nameserver ::1\nnameserver fe80::1%eth0\n",
			"nameserver fe80::1%eth0\n"},
		{"only loopback falls back",
			"nameserver 127.0.0.53\nsearch lan\n",
			"search lan\n# glassbox: the host's nameservers are loopback-only or missing; public fallbacks\nnameserver 8.8.8.8\nnameserver 8.8.4.4\n"},
		{"empty falls back", "",
			"# glassbox: the host's nameservers are loopback-only or missing; public fallbacks\nnameserver 8.8.8.8\nnameserver 8.8.4.4\n"},
	}
	for _, tt := range tests {
		if got := string(ResolvConf([]byte(tt.in))); got != tt.want {
			t.Errorf("%s: ResolvConf =\n%s\nwant\n%s", tt.name, got, tt.want)
		}
	}
}

func TestHosts(t *testing.T) {
	got := string(Hosts("web", netip.MustParseAddr("172.31.240.2")))
	for _, line := range []string{"127.0.0.1\tlocalhost\n", "::1\tlocalhost ip6-localhost ip6-loopback\n", "172.31.240.2\tweb\n"} {
		if !strings.Contains(got, line) {
			t.Errorf("Hosts lacks %q:\n%s", line, got)
		}
	}
	if got := string(Hosts("web", netip.Addr{})); !strings.Contains(got, "127.0.1.1\tweb\n") {
		t.Errorf("Hosts without an address lacks 127.0.1.1 web:\n%s", got)
	}
}

func TestAllocate(t *testing.T) {
	cfg := Config{Subnet: netip.MustParsePrefix("10.9.0.0/29")}.withDefaults()
	st := &state{Config: cfg, Attachments: map[string]*Attachment{}}
	var got []string
	for i := range 5 { // .2 .. .6: .0 network, .1 gateway, .7 broadcast are never handed out
		ip, err := allocate(st)
		if err != nil {
			t.Fatalf("allocate %d: %v", i, err)
		}
		st.Attachments[ip.String()] = &Attachment{IP: ip}
		got = append(got, ip.String())
	}
	if want := "10.9.0.2 10.9.0.3 10.9.0.4 10.9.0.5 10.9.0.6"; strings.Join(got, " ") != want {
		t.Fatalf("allocations = %v, want %s", got, want)
	}
	if ip, err := allocate(st); err == nil {
		t.Fatalf("allocate in a full subnet = %s, want an error", ip)
	}
	// Freeing .3 then allocating goes round from the last one and finds .3.
	delete(st.Attachments, "10.9.0.3")
	if ip, err := allocate(st); err != nil || ip.String() != "10.9.0.3" {
		t.Fatalf("allocate after freeing .3 = %v, %v", ip, err)
	}
}

func TestConfigValidate(t *testing.T) {
	bad := []Config{
		{Bridge: "averyveryverylongname"},
		{Subnet: netip.MustParsePrefix("fd00::/64")},
		{Subnet: netip.MustParsePrefix("10.0.0.0/31")},
		{MTU: 100},
	}
	for _, c := range bad {
		if err := c.withDefaults().validate(); err == nil {
			t.Errorf("validate(%+v) = nil, want an error", c)
		}
	}
	if err := (Config{}).withDefaults().validate(); err != nil {
		t.Errorf("default config invalid: %v", err)
	}
}

func TestHostVethName(t *testing.T) {
	a, b := hostVethName("glassbox0", "abc"), hostVethName("gbtest1", "abc")
	if a == b || len(a) > 15 || !strings.HasPrefix(a, "gb") {
		t.Errorf("hostVethName: %q %q: want distinct names of at most 15 bytes", a, b)
	}
}

func TestQuotedAfter(t *testing.T) {
	tests := []struct{ line, want string }{
		{`-A GB-PRE -p tcp -m tcp --dport 8080 -m comment --comment "glassbox:abc tcp dport 8080 dnat to 10.0.0.2:80" -j DNAT --to-destination 10.0.0.2:80 -c 3 180`,
			"glassbox:abc tcp dport 8080 dnat to 10.0.0.2:80"},
		{`-A GB-POST -s 10.0.0.0/24 -m comment --comment glassbox:bridge -j MASQUERADE`, "glassbox:bridge"},
		{`-A GB-POST -s 10.0.0.0/24 -j MASQUERADE`, ""},
	}
	for _, tt := range tests {
		if got := quotedAfter(tt.line, "--comment "); got != tt.want {
			t.Errorf("quotedAfter(%q) = %q, want %q", tt.line, got, tt.want)
		}
	}
}

func TestConfigFileRoundTrip(t *testing.T) {
	path := t.TempDir() + "/network.json"
	if c, err := ReadConfig(path); err != nil || c != (Config{}) {
		t.Fatalf("ReadConfig of a missing file = %+v, %v; want the zero Config", c, err)
	}
	want := Config{Bridge: "gbx0", Subnet: netip.MustParsePrefix("10.77.0.0/24"), Table: "gbx", MTU: 1400, NoForwarding: true, Firewall: "iptables"}
	if err := WriteConfig(path, want); err != nil {
		t.Fatal(err)
	}
	if got, err := ReadConfig(path); err != nil || got != want {
		t.Fatalf("ReadConfig = %+v, %v; want %+v", got, err, want)
	}
	for _, bad := range []Config{{Firewall: "pf"}, {Table: "a-table-name-far-too-long"}, {Subnet: netip.MustParsePrefix("10.0.0.0/31")}} {
		if err := WriteConfig(path, bad); err == nil {
			t.Errorf("WriteConfig(%+v) = nil, want an error", bad)
		}
	}
}

func TestReportFormat(t *testing.T) {
	r := &Report{
		Attachment: &Attachment{ID: "abc", Name: "web", IP: netip.MustParseAddr("10.0.0.2"), Prefix: 24,
			Gateway: netip.MustParseAddr("10.0.0.1"), Bridge: "gb0",
			Ports: []PortMapping{{HostPort: 8080, ContainerPort: 80, Protocol: "tcp"}}},
		Netns:      "/run/glassbox/network/netns/abc",
		Interfaces: []Interface{{Index: 2, Name: "eth0", Kind: "veth", State: "UP", MTU: 1500, Addrs: []string{"10.0.0.2/24"}, PeerIndex: 9}},
		Routes:     []Route{{Dst: "default", Gateway: "10.0.0.1", Dev: "eth0"}},
		HostPeers:  []Interface{{Index: 9, Name: "gb123", Kind: "veth", State: "UP", MTU: 1500, Master: "gb0", PeerIndex: 2}},
		Bridge:     &Interface{Index: 8, Name: "gb0", Kind: "bridge", State: "UP", MTU: 1500, Addrs: []string{"10.0.0.1/24"}},
		Rules:      []NATRule{{Chain: "prerouting", Handle: 4, Comment: "glassbox:abc tcp dport 8080 dnat to 10.0.0.2:80", Packets: 1, Bytes: 60}},
		RulesIn:    "nftables table ip gb",
	}
	var b strings.Builder
	if err := r.Format(&b); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"container  abc (web)\n", "address    10.0.0.2/24 via 10.0.0.1 on bridge gb0\n", "publish    8080->80/tcp\n",
		"2: eth0", "peer ifindex 9 10.0.0.2/24", "default            via 10.0.0.1 dev eth0",
		"9: gb123", "master gb0", "8: gb0", "NAT rules in nftables table ip gb",
		"prerouting  handle 4    packets 1      bytes 60       abc tcp dport 8080 dnat to 10.0.0.2:80",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("Format lacks %q:\n%s", want, out)
		}
	}
}

func TestPortsOverlap(t *testing.T) {
	lo, other := netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("10.1.2.3")
	taken := []PortMapping{{HostPort: 8080, ContainerPort: 80, Protocol: "tcp"}, {HostIP: lo, HostPort: 53, ContainerPort: 53, Protocol: "udp"}}
	tests := []struct {
		p    PortMapping
		want bool
	}{
		{PortMapping{HostPort: 8080, ContainerPort: 81, Protocol: "tcp"}, true},
		{PortMapping{HostIP: other, HostPort: 8080, Protocol: "tcp"}, true}, // 0.0.0.0 covers it
		{PortMapping{HostPort: 8080, Protocol: "udp"}, false},
		{PortMapping{HostPort: 8081, Protocol: "tcp"}, false},
		{PortMapping{HostPort: 53, Protocol: "udp"}, true}, // every address includes 127.0.0.1
		{PortMapping{HostIP: other, HostPort: 53, Protocol: "udp"}, false},
	}
	for _, tt := range tests {
		if got := portsOverlap(tt.p, taken); got != tt.want {
			t.Errorf("portsOverlap(%s) = %v, want %v", tt.p, got, tt.want)
		}
	}
}
