package network_test

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vishvananda/netlink"

	"github.com/glassbox/glassbox/engine/network"
)

func TestRunBridgeContainersReachEachOther(t *testing.T) {
	e := newGB(t)
	// A serves its own /etc over HTTP; B, started afterwards, fetches A's hostname by address.
	a := e.Must("run", "-d", "--name", "alpha"+unique(), "--hostname", "alpha", e.image, "httpd", "-f", "-p", "80", "-h", "/etc")
	ad := e.inspect(a)
	if ad.NetworkSettings.Mode != "bridge" || !e.cfg.Subnet.Contains(mustAddr(t, ad.NetworkSettings.IPAddress)) {
		t.Fatalf("A's network settings %+v: want bridge mode with an address in %s", ad.NetworkSettings, e.cfg.Subnet)
	}
	aIP := ad.NetworkSettings.IPAddress
	r := e.Run("run", "--rm", "--hostname", "beta", e.image, "sh", "-c",
		fmt.Sprintf("for i in 1 2 3 4 5 6 7 8 9 10; do wget -q -O- http://%s/hostname && break; sleep 0.3; done; echo; cat /etc/hosts; ip -o addr show eth0; ip route; cat /sys/class/net/eth0/mtu", aIP))
	if r.Code != 0 {
		t.Fatalf("run B: exit %d: %s %s", r.Code, r.Stdout, r.Stderr)
	}
	out := r.Stdout
	if !strings.HasPrefix(out, "alpha\n") {
		t.Fatalf("B fetched %q from A at %s, want A's hostname alpha", out, aIP)
	}
	gw := e.cfg.Subnet.Addr().Next().String()
	for _, want := range []string{"\tbeta\n", "default via " + gw + " dev eth0", "\n1400\n", "eth0    inet "} {
		if !strings.Contains(out, want) {
			t.Errorf("B's view lacks %q:\n%s", want, out)
		}
	}
	// /etc/hosts names B at the very address eth0 has.
	var bIP string
	for _, l := range strings.Split(out, "\n") {
		if f := strings.Fields(l); len(f) == 2 && f[1] == "beta" {
			bIP = f[0]
		}
	}
	if bIP == "" || bIP == aIP || !strings.Contains(out, "inet "+bIP+"/") {
		t.Errorf("B's /etc/hosts address %q is not its eth0 address (A has %s):\n%s", bIP, aIP, out)
	}
	// resolv.conf never keeps a loopback nameserver.
	resolv := e.Must("run", "--rm", e.image, "cat", "/etc/resolv.conf")
	for _, l := range strings.Split(resolv, "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "nameserver" && (strings.HasPrefix(f[1], "127.") || f[1] == "::1") {
			t.Errorf("container resolv.conf keeps loopback nameserver: %s", l)
		}
	}
	// container:NAME shares A's namespace: A's server is on its loopback.
	if got := e.Must("run", "--rm", "--network", "container:"+a, e.image, "wget", "-q", "-O-", "http://127.0.0.1/hostname"); got != "alpha" {
		t.Errorf("--network container:A fetched %q from 127.0.0.1, want alpha", got)
	}
	// Joining a container that does not run is a clear error that leaves no attachment.
	stopped := e.Must("create", "--network", "none", e.image, "true")
	before := len(e.attachments())
	if r := e.Run("run", "--rm", "--network", "container:"+stopped, e.image, "true"); r.Code != 125 || !strings.Contains(r.Stderr, "not running") {
		t.Errorf("--network container:<not running>: exit %d, %q; want 125 naming it not running", r.Code, r.Stderr)
	}
	if after := len(e.attachments()); after != before {
		t.Errorf("attachments went from %d to %d after a refused container: join", before, after)
	}
	// none has only lo; host sees the test's bridge.
	if got := e.Must("run", "--rm", "--network", "none", e.image, "ls", "/sys/class/net"); got != "lo" {
		t.Errorf("--network none has links %q, want lo", got)
	}
	if got := e.Must("run", "--rm", "--network", "host", e.image, "ls", "/sys/class/net"); !strings.Contains(got, e.cfg.Bridge) {
		t.Errorf("--network host does not see the host's %s: %q", e.cfg.Bridge, got)
	}
	// network inspect shows eth0 inside, its veth peer on the bridge, the route and the bridge.
	rep := e.Must("network", "inspect", a)
	for _, want := range []string{"eth0", ad.NetworkSettings.HostVeth, "master " + e.cfg.Bridge, "default", "via " + gw, "bridge (host)"} {
		if !strings.Contains(rep, want) {
			t.Errorf("network inspect lacks %q:\n%s", want, rep)
		}
	}
}

func TestRunPublishedPortAnswersOnLoopback(t *testing.T) {
	e := newGB(t)
	port := freePort(t)
	id := e.Must("run", "-d", "--hostname", "web", "-p", fmt.Sprintf("%d:80", port), e.image, "httpd", "-f", "-p", "80", "-h", "/etc")
	d := e.inspect(id)
	if got := d.NetworkSettings.Ports["80/tcp"]; got != fmt.Sprintf("0.0.0.0:%d", port) {
		t.Errorf("inspect Ports[80/tcp] = %q, want 0.0.0.0:%d", got, port)
	}
	// 127.0.0.1 goes through the loopback proxy.
	if got := httpGet(t, fmt.Sprintf("http://127.0.0.1:%d/hostname", port)); got != "web\n" {
		t.Fatalf("GET 127.0.0.1:%d/hostname = %q, want web", port, got)
	}
	// The bridge's gateway is another address of this host: DNAT in the output chain.
	gw := e.cfg.Subnet.Addr().Next()
	if got := httpGet(t, fmt.Sprintf("http://%s:%d/hostname", gw, port)); got != "web\n" {
		t.Fatalf("GET %s:%d/hostname = %q, want web", gw, port, got)
	}
	// Another container reaches the published port through the host's address (hairpin NAT).
	if got := e.Must("run", "--rm", e.image, "wget", "-q", "-O-", fmt.Sprintf("http://%s:%d/hostname", gw, port)); got != "web" {
		t.Errorf("a neighbour fetched %q from %s:%d, want web", got, gw, port)
	}
	rules := nftRulesOf(t, e.cfg.Table, id)
	if want := fmt.Sprintf("tcp dport %d dnat to %s:80", port, d.NetworkSettings.IPAddress); !strings.Contains(rules, want) {
		t.Errorf("nft lists no %q for %s:\n%s", want, id, rules)
	}
	rep := e.Must("network", "inspect", id)
	if !strings.Contains(rep, fmt.Sprintf("dport %d dnat", port)) || !strings.Contains(rep, "masquerade") {
		t.Errorf("network inspect lacks the container's DNAT and the bridge's masquerade rules:\n%s", rep)
	}
	if p := proxiesFor(t, e.cfg); len(p) != 1 {
		t.Errorf("proxies serving %s: %v, want one", e.cfg.Subnet, p)
	}

	// 127.0.0.1:PORT:80 is served on loopback only: the proxy, no DNAT rule.
	lport := freePort(t)
	lid := e.Must("run", "-d", "--hostname", "local", "-p", fmt.Sprintf("127.0.0.1:%d:80", lport), e.image, "httpd", "-f", "-p", "80", "-h", "/etc")
	if got := httpGet(t, fmt.Sprintf("http://127.0.0.1:%d/hostname", lport)); got != "local\n" {
		t.Errorf("GET 127.0.0.1:%d/hostname = %q, want local", lport, got)
	}
	if c, err := net.DialTimeout("tcp4", fmt.Sprintf("%s:%d", gw, lport), time.Second); err == nil {
		c.Close()
		t.Errorf("%s:%d answers a port published on 127.0.0.1 only", gw, lport)
	}
	if r := nftRulesOf(t, e.cfg.Table, lid); r != "" {
		t.Errorf("a loopback-only mapping has DNAT rules:\n%s", r)
	}

	e.Must("rm", "-f", id, lid)
	assertNothingLeft(t, e, id, d.NetworkSettings.HostVeth, port)
}

func TestRunPublishedPortMovesToTheStartedContainer(t *testing.T) {
	e := newGB(t)
	port := freePort(t)
	gw := e.cfg.Subnet.Addr().Next()
	serve := func(host string) string {
		return e.Must("run", "-d", "--hostname", host, "-p", fmt.Sprintf("%d:80", port), e.image, "httpd", "-f", "-p", "80", "-h", "/etc")
	}
	a := serve("first")
	if got := httpGet(t, fmt.Sprintf("http://%s:%d/hostname", gw, port)); got != "first\n" {
		t.Fatalf("GET %s:%d = %q, want first", gw, port, got)
	}
	e.Must("stop", "-t", "1", a)
	// A stopped container keeps its address and rules; the next container on the same port
	// takes the port on every address, not only on loopback.
	b := serve("second")
	for _, host := range []string{"127.0.0.1", gw.String()} {
		if got := httpGet(t, fmt.Sprintf("http://%s:%d/hostname", host, port)); got != "second\n" {
			t.Errorf("GET %s:%d after the port moved = %q, want second", host, port, got)
		}
	}
	if r := nftRulesOf(t, e.cfg.Table, a); r != "" {
		t.Errorf("the stopped container still holds rules for the port:\n%s", r)
	}
	// The first cannot start again while the second holds the port.
	if r := e.Run("start", a); r.Code == 0 || !strings.Contains(r.Stderr, "already in use") {
		t.Errorf("start of the first while the second holds port %d: exit %d, %q", port, r.Code, r.Stderr)
	}
	e.Must("rm", "-f", a, b)
	if r := nftRulesOf(t, e.cfg.Table, b); r != "" {
		t.Errorf("rules left after rm:\n%s", r)
	}
}

func TestRunPortInUseStartsNothing(t *testing.T) {
	e := newGB(t)
	port := freePort(t)
	held, err := net.Listen("tcp4", fmt.Sprintf("0.0.0.0:%d", port))
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	name := "busy" + unique()
	r := e.Run("run", "-d", "--name", name, "-p", fmt.Sprintf("%d:80", port), e.image, "sleep", "300")
	if r.Code != 125 || !strings.Contains(r.Stderr, "already in use") || !strings.Contains(r.Stderr, fmt.Sprint(port)) {
		t.Fatalf("run -p %d with the port held: exit %d, stderr %q; want 125 and an error naming the port in use", port, r.Code, r.Stderr)
	}
	if ps := e.Must("ps", "-a", "-q"); ps != "" {
		t.Errorf("containers after the failed run: %q", ps)
	}
	if atts := e.attachments(); len(atts) != 0 {
		t.Errorf("attachments after the failed run: %+v", atts)
	}
	if p := bridgePorts(t, e.cfg.Bridge); len(p) != 0 {
		t.Errorf("bridge ports after the failed run: %v", p)
	}
	if p := proxiesFor(t, e.cfg); len(p) != 0 {
		t.Errorf("proxies after the failed run: %v", p)
	}
	// The name is free again: nothing half-made holds it.
	e.Must("create", "--name", name, e.image, "true")

	// A port taken between create and start fails the start, and the container does not run.
	held2Port := freePort(t)
	id := e.Must("create", "-p", fmt.Sprintf("%d:80", held2Port), e.image, "sleep", "300")
	held2, err := net.Listen("tcp4", fmt.Sprintf("0.0.0.0:%d", held2Port))
	if err != nil {
		t.Fatal(err)
	}
	defer held2.Close()
	r = e.Run("start", id)
	if r.Code == 0 || !strings.Contains(r.Stderr, "already in use") {
		t.Fatalf("start with the port taken: exit %d, %q", r.Code, r.Stderr)
	}
	if st := e.inspect(id).State; st.Running || st.Pid != 0 {
		t.Errorf("container runs after a failed start: %+v", st)
	}
	// The root cannot move to another bridge while its containers are on this one.
	if r := e.Run("network", "config", "--bridge", "gbtother"+unique()); r.Code != 125 || !strings.Contains(r.Stderr, "remove them") {
		t.Errorf("network config --bridge with containers attached: exit %d, %q; want 125 and a refusal", r.Code, r.Stderr)
	}
}

func TestRunRemoveCyclesLeaveNothing(t *testing.T) {
	e := newGB(t)
	netnsBefore := orphanNetns(t)
	// Five workers at once (addresses, rules and the nftables table are shared under the
	// network's lock), ten cycles each, each worker on one host port: a cycle's port is free
	// again for the next only if the previous container's proxy is gone.
	var wg sync.WaitGroup
	errs := make(chan string, 50)
	for w := range 5 {
		port := freePort(t)
		wg.Go(func() {
			for i := range 10 {
				r := e.Run("run", "--rm", "-p", fmt.Sprintf("%d:80", port), e.image, "true")
				if r.Code != 0 {
					errs <- fmt.Sprintf("worker %d cycle %d: run --rm -p %d:80: exit %d: %s", w, i, port, r.Code, r.Stderr)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for msg := range errs {
		t.Error(msg)
	}
	if ps := e.Must("ps", "-a", "-q"); ps != "" {
		t.Errorf("containers left after 50 run --rm: %q", ps)
	}
	if atts := e.attachments(); len(atts) != 0 {
		t.Errorf("addresses still allocated after 50 cycles: %+v", atts)
	}
	if p := bridgePorts(t, e.cfg.Bridge); len(p) != 0 {
		t.Errorf("veths left on the bridge after 50 cycles: %v", p)
	}
	if p := proxiesFor(t, e.cfg); len(p) != 0 {
		t.Errorf("proxies left after 50 cycles: %v", p)
	}
	out, _ := exec.Command("nft", "list", "table", "ip", e.cfg.Table).CombinedOutput()
	if n := strings.Count(string(out), "glassbox:"); n != 2 {
		t.Errorf("table %s after 50 cycles should hold only the bridge's two rules, has %d:\n%s", e.cfg.Table, n, out)
	}
	for _, f := range orphanNetns(t) {
		if !slices.Contains(netnsBefore, f) {
			t.Errorf("network namespace file left with no attachment: %s", f)
		}
	}
}

func TestGCAfterCrashedCreateAndKilledShim(t *testing.T) {
	e := newGB(t)
	// Creates killed after the namespace was made, after the veth was, and after the whole
	// network was wired.
	for _, fault := range []string{"network-netns", "network-veth", "network"} {
		cmd := e.Command("create", "-p", fmt.Sprintf("%d:80", freePort(t)), e.image, "true")
		cmd.Env = append(os.Environ(), "GLASSBOX_FAULT=create:"+fault)
		if err := cmd.Run(); err == nil {
			t.Fatalf("create with the fault switch %s succeeded", fault)
		}
	}
	cut := e.attachments()
	if len(cut) != 3 {
		t.Fatalf("attachments after the cut-off creates: %+v, want three", cut)
	}
	// What the cut-off creates left for gc: three namespaces, two veths (the first was cut
	// before its veth existed).
	if p := bridgePorts(t, e.cfg.Bridge); len(p) != 2 {
		t.Fatalf("veths on %s after the cut-off creates: %v, want two", e.cfg.Bridge, p)
	}
	for _, a := range cut {
		if _, err := os.Stat(a.Netns); err != nil {
			t.Fatalf("the cut-off create's namespace: %v", err)
		}
	}

	// A --rm container with a published port whose shim is SIGKILLed.
	port := freePort(t)
	id := e.Must("run", "-d", "--rm", "-p", fmt.Sprintf("%d:80", port), e.image, "sleep", "300")
	d := e.inspect(id)
	if err := killPid(d.ShimPid); err != nil {
		t.Fatal(err)
	}
	e.Must("gc")
	if atts := e.attachments(); len(atts) != 0 {
		t.Errorf("attachments after gc: %+v", atts)
	}
	for _, a := range cut {
		if _, err := netlink.LinkByName(a.HostVeth); err == nil {
			t.Errorf("the cut-off create's veth %s survived gc", a.HostVeth)
		}
		if _, err := os.Stat(a.Netns); err == nil {
			t.Errorf("the cut-off create's namespace %s survived gc", a.Netns)
		}
		if r := nftRulesOf(t, e.cfg.Table, a.ID); r != "" {
			t.Errorf("the cut-off create's rules survived gc:\n%s", r)
		}
	}
	if p := bridgePorts(t, e.cfg.Bridge); len(p) != 0 {
		t.Errorf("veths on the bridge after gc: %v", p)
	}
	assertNothingLeft(t, e, id, d.NetworkSettings.HostVeth, port)
}

// assertNothingLeft checks that a removed container left no veth, rule, proxy, bound port or
// namespace file.
func assertNothingLeft(t *testing.T, e *gbEnv, id, veth string, port uint16) {
	t.Helper()
	if _, err := netlink.LinkByName(veth); err == nil {
		t.Errorf("veth %s left after removal", veth)
	}
	if r := nftRulesOf(t, e.cfg.Table, id); r != "" {
		t.Errorf("rules of %s left after removal:\n%s", id, r)
	}
	if p := proxiesFor(t, e.cfg); len(p) != 0 {
		t.Errorf("proxies left after removal: %v", p)
	}
	if _, err := os.Stat(filepath.Join(network.DefaultStateDir, "netns", id)); err == nil {
		t.Errorf("namespace file of %s left after removal", id)
	}
	l, err := net.Listen("tcp4", fmt.Sprintf("0.0.0.0:%d", port))
	if err != nil {
		t.Errorf("host port %d still held after removal: %v", port, err)
	} else {
		l.Close()
	}
}

// orphanNetns lists namespace files no bridge's state records: what a teardown would have
// left. Other test packages create and remove containers meanwhile, so the files are listed
// first, the states read next (an attachment is recorded before its file exists), and a file
// counts only if it is still there afterwards (teardown removes the file before the record).
func orphanNetns(t *testing.T) []string {
	files, _ := filepath.Glob(filepath.Join(network.DefaultStateDir, "netns", "*"))
	states, _ := filepath.Glob(filepath.Join(network.DefaultStateDir, "*.json"))
	recorded := map[string]bool{}
	for _, s := range states {
		var st struct {
			Attachments map[string]network.Attachment `json:"attachments"`
		}
		if data, err := os.ReadFile(s); err == nil && json.Unmarshal(data, &st) == nil {
			for _, a := range st.Attachments {
				recorded[a.Netns] = true
			}
		}
	}
	var orphans []string
	for _, f := range files {
		if _, err := os.Stat(f); err == nil && !recorded[f] {
			orphans = append(orphans, f)
		}
	}
	return orphans
}

func killPid(pid int) error {
	p, err := os.FindProcess(pid)
	if err != nil {
		return err
	}
	return p.Kill()
}
