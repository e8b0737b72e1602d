package network_test

import (
	"bytes"
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
	"sync"
	"testing"
	"time"

	"github.com/vishvananda/netlink"

	"github.com/glassbox/glassbox/engine"
	"github.com/glassbox/glassbox/engine/network"
	"github.com/glassbox/glassbox/test/fixture"
)

var (
	regOnce sync.Once
	reg     *fixture.Registry
	busy    string
)

// gbEnv is one test's glassbox root, with busybox pulled and a bridge, subnet and nftables
// table of the test's own configured (never glassbox0), all removed on cleanup.
type gbEnv struct {
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
	regOnce.Do(func() {
		reg = fixture.NewRegistry()
		img, err := fixture.Busybox(fixture.WithCmd("sh"))
		if err != nil {
			panic(err)
		}
		if busy, err = reg.Push("busybox:latest", img); err != nil {
			panic(err)
		}
	})
	e := &gbEnv{t: t, root: t.TempDir(), image: busy}
	u := unique()
	e.cfg = network.Config{Bridge: "gbtbr" + u, Subnet: freeSubnet(t), Table: "gbtest" + u, MTU: 1400}
	e.must("pull", "-q", busy)
	e.must("network", "config", "--bridge", e.cfg.Bridge, "--subnet", e.cfg.Subnet.String(),
		"--table", e.cfg.Table, "--mtu", "1400", "--no-forwarding")
	t.Cleanup(e.cleanup)
	return e
}

// cleanup removes every container, then the test's network, and checks that the bridge and
// the table are gone.
func (e *gbEnv) cleanup() {
	for _, id := range strings.Fields(e.gb("ps", "-a", "-q", "--no-trunc").stdout) {
		e.gb("rm", "-f", id)
	}
	e.gb("gc")
	if r := e.gb("network", "rm"); r.code != 0 {
		e.t.Errorf("network rm: %s", r.stderr)
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
	data, _ := os.ReadFile("/proc/self/mountinfo")
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) > 4 && strings.HasPrefix(f[4], e.root) {
			e.t.Errorf("left mounted: %s", f[4])
			exec.Command("umount", "-l", f[4]).Run()
		}
	}
}

type result struct {
	stdout, stderr string
	code           int
}

func (e *gbEnv) gb(args ...string) result {
	e.t.Helper()
	cmd := exec.Command(fixture.Glassbox(e.t), append([]string{"--root", e.root}, args...)...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := result{stdout: out.String(), stderr: errb.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		r.code = ee.ExitCode()
	} else if err != nil {
		e.t.Fatalf("glassbox %v: %v", args, err)
	}
	return r
}

func (e *gbEnv) must(args ...string) string {
	e.t.Helper()
	r := e.gb(args...)
	if r.code != 0 {
		e.t.Fatalf("glassbox %s: exit %d: %s%s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return strings.TrimSpace(r.stdout)
}

func (e *gbEnv) inspect(ref string) engine.ContainerDetail {
	e.t.Helper()
	var ds []engine.ContainerDetail
	if err := json.Unmarshal([]byte(e.must("inspect", ref)), &ds); err != nil || len(ds) != 1 {
		e.t.Fatalf("inspect %s: %v", ref, err)
	}
	return ds[0]
}

// attachments lists this root's containers on the bridge, as `network ls --format json` does.
func (e *gbEnv) attachments() []network.Attachment {
	e.t.Helper()
	var l struct {
		Attachments []network.Attachment `json:"attachments"`
	}
	if err := json.Unmarshal([]byte(e.must("--format", "json", "network", "ls")), &l); err != nil {
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
