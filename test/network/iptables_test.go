package network_test

import (
	"context"
	"fmt"
	"net"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"

	"github.com/glassbox/glassbox/engine/network"
	"github.com/glassbox/glassbox/test/fixture"
)

// The iptables fallback, for real but out of the host's way: the whole bridge (bridge, veth,
// nat chains and jump rules) lives in a network namespace the test made and plays host in, so
// nothing touches the machine's own iptables or nftables.
func TestIptablesFallbackInAHostOfItsOwn(t *testing.T) {
	fixture.NeedRoot(t)
	fixture.NeedBinary(t, "iptables")
	host, ctr := newNetns(t), newNetns(t)
	serveHello(t, ctr, 80)
	u := unique()
	cfg := network.Config{Bridge: "gbtbr" + u, Subnet: freeSubnet(t), Table: "gbipt" + u, NoForwarding: true, Firewall: "iptables"}
	dir := t.TempDir()
	id := "ipt" + u
	inNetns(t, host, func() {
		lo, err := netlink.LinkByName("lo")
		if err == nil {
			err = netlink.LinkSetUp(lo)
		}
		if err != nil {
			t.Errorf("lo up in the test host: %v", err)
			return
		}
		m, err := network.Open(dir, nil, cfg)
		if err != nil {
			t.Error(err)
			return
		}
		ports := []network.PortMapping{{HostPort: 8080, ContainerPort: 80, Protocol: "tcp"}}
		att, err := m.Setup(context.Background(), network.Request{ID: id, NetnsPath: ctr, Ports: ports})
		if err != nil {
			t.Errorf("setup with iptables: %v", err)
			return
		}
		att.Listeners.Close()
		save := iptablesSave(t)
		chain := strings.ToUpper(cfg.Table)
		for _, want := range []string{
			"-A PREROUTING -m addrtype --dst-type LOCAL -j " + chain + "-PRE",
			"-A POSTROUTING -j " + chain + "-POST",
			fmt.Sprintf("-A %s-OUT -p tcp -m tcp --dport 8080 -m comment --comment \"glassbox:%s tcp dport 8080 dnat to %s:80\" -j DNAT --to-destination %s:80", chain, id, att.IP, att.IP),
			"-j MASQUERADE",
		} {
			if !strings.Contains(save, want) {
				t.Errorf("iptables-save in the test host lacks %q:\n%s", want, save)
			}
		}
		// DNAT in the output chain: the host's own connection to its bridge address.
		c, err := net.DialTimeout("tcp4", fmt.Sprintf("%s:8080", cfg.Gateway()), 5*time.Second)
		if err != nil {
			t.Errorf("dial %s:8080 through iptables DNAT: %v", cfg.Gateway(), err)
		} else {
			got := readLine(t, c)
			c.Close()
			if want := "hello from " + att.IP.String(); got != want {
				t.Errorf("through iptables DNAT: %q, want %q", got, want)
			}
		}
		rep, err := m.Inspect(context.Background(), id)
		if err != nil {
			t.Error(err)
		} else if len(rep.Rules) != 4 || !strings.HasPrefix(rep.RulesIn, "iptables") {
			t.Errorf("inspect rules in %q: %+v, want the container's two DNAT rules and the bridge's two", rep.RulesIn, rep.Rules)
		}
		if err := m.Teardown(context.Background(), id); err != nil {
			t.Errorf("teardown: %v", err)
		}
		if save := iptablesSave(t); strings.Contains(save, "glassbox:"+id) {
			t.Errorf("rules of %s left after teardown:\n%s", id, save)
		}
		if err := m.Remove(context.Background()); err != nil {
			t.Errorf("remove: %v", err)
		}
		if save := iptablesSave(t); strings.Contains(save, chain) {
			t.Errorf("chains or jumps of %s left after remove:\n%s", chain, save)
		}
	})
}

// iptablesSave is the nat table of the calling thread's network namespace.
func iptablesSave(t *testing.T) string {
	out, err := exec.Command("iptables-save", "-t", "nat").CombinedOutput()
	if err != nil {
		t.Errorf("iptables-save: %v: %s", err, out)
	}
	return string(out)
}
