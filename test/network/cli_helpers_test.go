package network_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"

	"github.com/glassbox/glassbox/engine"
	"github.com/glassbox/glassbox/engine/network"
	"github.com/glassbox/glassbox/test/fixture"
)

// gbEnv is one test's glassbox root, with busybox pulled and a bridge, subnet and nftables
// table of the test's own configured (never glassbox0), all removed on cleanup.
type gbEnv struct {
	*fixture.CLI
	t     *testing.T
	root  string
	image string
	cfg   network.Config
}

func newGB(t *testing.T) *gbEnv {
	t.Helper()
	fixture.NeedRoot(t)
	fixture.NeedBinary(t, "runc")
	fixture.NeedBinary(t, "nft")
	root := t.TempDir()
	e := &gbEnv{CLI: fixture.NewCLI(t, root), t: t, root: root, image: fixture.SharedBusybox(t)}
	u := unique()
	e.cfg = network.Config{Bridge: "gbtbr" + u, Subnet: freeSubnet(t), Table: "gbtest" + u, MTU: 1400}
	e.Must("pull", "-q", e.image)
	e.Must("network", "config", "--bridge", e.cfg.Bridge, "--subnet", e.cfg.Subnet.String(),
		"--table", e.cfg.Table, "--mtu", "1400", "--no-forwarding")
	t.Cleanup(e.cleanup)
	return e
}

// cleanup removes every container, then the test's network, and checks that the bridge and
// the table are gone.
func (e *gbEnv) cleanup() {
	e.RemoveContainers()
	if r := e.Run("network", "rm"); r.Code != 0 {
		e.t.Errorf("network rm: %s", r.Stderr)
	}
	if _, err := netlink.LinkByName(e.cfg.Bridge); err == nil {
		e.t.Errorf("bridge %s still exists after network rm", e.cfg.Bridge)
		if l, err := netlink.LinkByName(e.cfg.Bridge); err == nil {
			netlink.LinkDel(l)
		}
	}
	if out, err := exec.Command("nft", "list", "table", "ip", e.cfg.Table).CombinedOutput(); err == nil {
		e.t.Errorf("table ip %s still exists after network rm:\n%s", e.cfg.Table, out)
		exec.Command("nft", "delete", "table", "ip", e.cfg.Table).Run()
	}
	fixture.CheckUnmounted(e.t, e.root)
}

func (e *gbEnv) inspect(ref string) (d engine.ContainerDetail) {
	e.t.Helper()
	e.Inspect(ref, &d)
	return d
}

// attachments lists this root's containers on the bridge, as `network ls --format json` does.
func (e *gbEnv) attachments() []network.Attachment {
	e.t.Helper()
	var l struct {
		Attachments []network.Attachment `json:"attachments"`
	}
	if err := json.Unmarshal([]byte(e.Must("--format", "json", "network", "ls")), &l); err != nil {
		e.t.Fatalf("network ls json: %v", err)
	}
	return l.Attachments
}

// httpGet fetches url, retrying while the server inside the container comes up (the deadline
// bounds a hang; no timing is asserted).
func httpGet(t *testing.T, url string) string {
	t.Helper()
	c := &http.Client{Timeout: 3 * time.Second}
	var last error
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		resp, err := c.Get(url)
		if err != nil {
			last = err
			continue
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err == nil && resp.StatusCode == 200 {
			return string(body)
		}
		last = fmt.Errorf("status %s, err %v", resp.Status, err)
	}
	t.Fatalf("GET %s: %v", url, last)
	return ""
}

// proxiesFor lists the PIDs of glassbox network-proxy processes serving an address in subnet:
// only this test's (other tests' proxies serve other subnets).
func proxiesFor(t *testing.T, cfg network.Config) []int {
	t.Helper()
	dirs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	var pids []int
	for _, d := range dirs {
		data, err := os.ReadFile(d)
		if err != nil {
			continue
		}
		args := strings.Split(string(data), "\x00")
		if len(args) < 4 || args[1] != network.ProxyReexec {
			continue
		}
		for i, a := range args {
			if a == "--ip" && i+1 < len(args) {
				if ip, err := netip.ParseAddr(args[i+1]); err == nil && cfg.Subnet.Contains(ip) {
					pid, _ := strconv.Atoi(strings.Split(d, "/")[2])
					pids = append(pids, pid)
				}
			}
		}
	}
	return pids
}

func mustAddr(t *testing.T, s string) netip.Addr {
	t.Helper()
	a, err := netip.ParseAddr(s)
	if err != nil {
		t.Fatalf("address %q: %v", s, err)
	}
	return a
}
