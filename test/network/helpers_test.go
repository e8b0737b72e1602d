// Package network_test runs engine/network against the real kernel: network namespaces the
// tests make, a bridge, a subnet and an nftables table of each test's own (never glassbox0),
// and traffic only to 127.0.0.1 and to addresses inside those namespaces.
package network_test

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"

	"github.com/glassbox/glassbox/engine/network"
)

var seq atomic.Int32

// unique is a short name part no other test process on the machine shares.
func unique() string { return fmt.Sprintf("%d%d", os.Getpid()%100000, seq.Add(1)) }

// newNetns makes a named network namespace (/run/netns/NAME) and removes it on cleanup.
func newNetns(t *testing.T) string {
	t.Helper()
	name := "gbt" + unique()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	orig, err := netns.Get()
	if err != nil {
		t.Fatal(err)
	}
	defer orig.Close()
	h, err := netns.NewNamed(name)
	if err != nil {
		t.Fatalf("create netns %s: %v", name, err)
	}
	h.Close()
	if err := netns.Set(orig); err != nil {
		t.Fatalf("return to the host netns: %v", err)
	}
	t.Cleanup(func() {
		if err := netns.DeleteNamed(name); err != nil {
			t.Errorf("delete netns %s: %v", name, err)
		}
	})
	return "/run/netns/" + name
}

// inNetns runs fn on an OS thread inside the namespace; sockets made there stay there.
func inNetns(t *testing.T, path string, fn func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		runtime.LockOSThread()
		// The thread is not unlocked: if returning to the host namespace failed, Go must not
		// reuse it, so the goroutine exits with it locked and the runtime ends the thread.
		orig, err := netns.Get()
		if err != nil {
			t.Error(err)
			return
		}
		defer orig.Close()
		ns, err := netns.GetFromPath(path)
		if err != nil {
			t.Error(err)
			return
		}
		defer ns.Close()
		if err := netns.Set(ns); err != nil {
			t.Errorf("enter %s: %v", path, err)
			return
		}
		fn()
		if err := netns.Set(orig); err == nil {
			runtime.UnlockOSThread()
		}
	}()
	<-done
}

// freeSubnet picks a /24 under 10.213.0.0/16 that no host address or route overlaps.
func freeSubnet(t *testing.T) netip.Prefix {
	t.Helper()
	routes, err := netlink.RouteList(nil, netlink.FAMILY_V4)
	if err != nil {
		t.Fatal(err)
	}
	start := os.Getpid() + int(seq.Add(1))*7
	for i := range 256 {
		p := netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 213, byte((start + i) % 256), 0}), 24)
		clash := false
		for _, r := range routes {
			if r.Dst == nil {
				continue
			}
			rp, err := netip.ParsePrefix(r.Dst.String())
			if err == nil && rp.Bits() > 0 && rp.Overlaps(p) {
				clash = true
			}
		}
		if !clash {
			return p
		}
	}
	t.Fatal("no free /24 under 10.213.0.0/16")
	return netip.Prefix{}
}

// newManager opens a Manager with a bridge, subnet and table of this test's own, and removes
// all of them (and any attachment left) on cleanup.
func newManager(t *testing.T) *network.Manager {
	t.Helper()
	u := unique()
	cfg := network.Config{Bridge: "gbtbr" + u, Subnet: freeSubnet(t), Table: "gbtest" + u, NoForwarding: true}
	dir := t.TempDir()
	m, err := network.Open(dir, nil, cfg)
	if err != nil {
		t.Fatal(err)
	}
	managerDirs.Store(m, dir)
	t.Cleanup(func() {
		atts, _ := m.Attachments()
		for _, a := range atts {
			if err := m.Teardown(context.Background(), a.ID); err != nil {
				t.Errorf("cleanup teardown %s: %v", a.ID, err)
			}
		}
		if err := m.Remove(context.Background()); err != nil {
			t.Errorf("cleanup remove network: %v", err)
		}
		if _, err := netlink.LinkByName(cfg.Bridge); err == nil {
			t.Errorf("bridge %s still exists after Remove", cfg.Bridge)
		}
		if out, err := exec.Command("nft", "list", "table", "ip", cfg.Table).CombinedOutput(); err == nil {
			t.Errorf("table ip %s still exists after Remove:\n%s", cfg.Table, out)
		}
	})
	return m
}

var managerDirs sync.Map // *network.Manager -> its state directory

// managerDir is the state directory newManager gave m.
func managerDir(t *testing.T, m *network.Manager) string {
	d, ok := managerDirs.Load(m)
	if !ok {
		t.Fatal("manager not made by newManager")
	}
	return d.(string)
}

// freePort returns a TCP and UDP port on 0.0.0.0 that nothing holds right now.
func freePort(t *testing.T) uint16 {
	t.Helper()
	for range 20 {
		l, err := net.Listen("tcp4", "0.0.0.0:0")
		if err != nil {
			t.Fatal(err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		u, err := net.ListenPacket("udp4", fmt.Sprintf("0.0.0.0:%d", port))
		l.Close()
		if err == nil {
			u.Close()
			return uint16(port)
		}
	}
	t.Fatal("no free port")
	return 0
}

// netnsLinks names the links inside a namespace.
func netnsLinks(t *testing.T, path string) []string {
	t.Helper()
	ns, err := netns.GetFromPath(path)
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Close()
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	links, err := h.LinkList()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, l := range links {
		names = append(names, l.Attrs().Name)
	}
	return names
}

// bridgePorts names the links enslaved to the bridge (none when it does not exist).
func bridgePorts(t *testing.T, bridge string) []string {
	t.Helper()
	br, err := netlink.LinkByName(bridge)
	if err != nil {
		return nil
	}
	links, err := netlink.LinkList()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, l := range links {
		if l.Attrs().MasterIndex == br.Attrs().Index {
			names = append(names, l.Attrs().Name)
		}
	}
	return names
}

// nftRulesOf returns the lines of `nft list table` mentioning the container ID ("" when the
// table does not exist): the nft CLI is an independent witness of what the kernel holds.
func nftRulesOf(t *testing.T, table, id string) string {
	t.Helper()
	out, err := exec.Command("nft", "list", "table", "ip", table).CombinedOutput()
	if err != nil {
		if strings.Contains(string(out), "No such file") {
			return ""
		}
		t.Fatalf("nft list table ip %s: %v\n%s", table, err, out)
	}
	var lines []string
	for _, l := range strings.Split(string(out), "\n") {
		if strings.Contains(l, "glassbox:"+id+" ") {
			lines = append(lines, strings.TrimSpace(l))
		}
	}
	return strings.Join(lines, "\n")
}
