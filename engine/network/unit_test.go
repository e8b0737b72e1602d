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
