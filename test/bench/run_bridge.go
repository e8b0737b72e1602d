package main

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/glassbox/glassbox/test/fixture"
)

// The run-bridge case: `glassbox run --rm IMG true` on a bridge (veth, address, NAT) against
// `podman run --rm --network bridge` (netavark), the same busybox image from the same registry
// on 127.0.0.1; run-publish: both publishing a port (-p), which adds glassbox's loopback proxy
// and podman's port forwarding. Each runtime's --network none run is measured beside them, so
// the report shows what the network itself costs each. glassbox runs on a bridge, subnet and
// nftables table of the bench's own, removed at the end; podman uses its default network.
func init() {
	register(Case{
		Name:    "run-bridge",
		About:   "run --rm busybox true on a bridge: glassbox vs podman (netavark), each beside its --network none",
		Rounds:  10,
		Prepare: func(env *Env) ([]Contender, error) { return prepareRunBridge(env, false) },
	})
	register(Case{
		Name:    "run-publish",
		About:   "run --rm -p busybox true on a bridge: glassbox (nftables DNAT, loopback proxy) vs podman (netavark)",
		Rounds:  10,
		Prepare: func(env *Env) ([]Contender, error) { return prepareRunBridge(env, true) },
	})
}

// prepareRunBridge sets up both runtimes; publish selects the -p pair instead of the plain one.
func prepareRunBridge(env *Env, publish bool) ([]Contender, error) {
	s := &runSetup{reg: fixture.NewRegistry()}
	env.Cleanup(s.reg.Close)
	img, err := fixture.Busybox()
	if err != nil {
		return nil, err
	}
	if s.ref, err = s.reg.Push("busybox:latest", img); err != nil {
		return nil, err
	}
	s.gbRoot = filepath.Join(env.Tmp, "glassbox")
	bridge := fmt.Sprintf("gbbench%d", os.Getpid()%100000)
	env.Cleanup(func() {
		exec.Command(env.Glassbox, "--root", s.gbRoot, "gc").Run()
		exec.Command(env.Glassbox, "--root", s.gbRoot, "network", "rm").Run()
		fixture.UnmountUnder(s.gbRoot)
		os.RemoveAll(s.gbRoot)
	})
	if err := Command(env.Glassbox, "--root", s.gbRoot, "pull", "-q", s.ref); err != nil {
		return nil, err
	}
	subnet, err := benchSubnet()
	if err != nil {
		return nil, err
	}
	if err := Command(env.Glassbox, "--root", s.gbRoot, "network", "config", "--bridge", bridge,
		"--subnet", subnet, "--table", bridge); err != nil {
		return nil, err
	}
	gbPort, pmPort, err := freePorts()
	if err != nil {
		return nil, err
	}
	gb := func(args ...string) func() error {
		return func() error {
			return Command(env.Glassbox, append([]string{"--root", s.gbRoot, "run", "--rm"}, append(args, s.ref, "true")...)...)
		}
	}
	contenders := []Contender{{Name: "glassbox run --rm bridge", Role: Subject, Run: gb("--network", "bridge")}}
	if publish {
		contenders[0] = Contender{Name: "glassbox run --rm -p", Role: Subject, Run: gb("-p", fmt.Sprintf("%d:80", gbPort))}
	}
	contenders = append(contenders, Contender{Name: "glassbox run --rm none", Role: Floor, Run: gb("--network", "none")})

	short, err := os.MkdirTemp("", "gbrb")
	if err != nil {
		return nil, err
	}
	env.Cleanup(func() { fixture.UnmountUnder(short); os.RemoveAll(short) })
	s.podmanRoot, s.podmanRun = filepath.Join(short, "root"), filepath.Join(short, "run")
	s.regConf = filepath.Join(short, "registries.conf")
	os.WriteFile(s.regConf, []byte(fmt.Sprintf("[[registry]]\nlocation = %q\ninsecure = true\n", s.reg.Addr)), 0o644)
	pm := func(args ...string) func() error {
		return func() error {
			full := append([]string{"run", "--rm", "--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024"}, args...)
			out, err := podmanCmd(s, append(full, s.ref, "true")...).CombinedOutput()
			if err != nil {
				return fmt.Errorf("podman run: %w: %s", err, strings.TrimSpace(string(out)))
			}
			return nil
		}
	}
	podman := []Contender{{Name: "podman run --rm bridge", Role: Peer, Run: pm("--network", "bridge")}}
	if publish {
		podman[0] = Contender{Name: "podman run --rm -p", Role: Peer, Run: pm("--network", "bridge", "-p", fmt.Sprintf("%d:80", pmPort))}
	}
	podman = append(podman, Contender{Name: "podman run --rm none", Role: Peer, Run: pm("--network", "none")})
	unavailable := ""
	if _, err := exec.LookPath("podman"); err != nil {
		unavailable = "podman is not installed"
	} else if out, err := podmanCmd(s, "pull", "-q", s.ref).CombinedOutput(); err != nil {
		unavailable = "podman pull failed: " + strings.TrimSpace(string(out))
	} else if err := pm("--network", "bridge")(); err != nil {
		unavailable = "podman's bridge network does not work here: " + err.Error()
	}
	for i := range podman {
		podman[i].Unavailable = unavailable
	}
	return append(contenders, podman...), nil
}

// benchSubnet picks a /24 under 10.214.0.0/16 that no host route covers.
func benchSubnet() (string, error) {
	ifaces, err := net.InterfaceAddrs()
	if err != nil {
		return "", err
	}
	for i := range 256 {
		_, cand, _ := net.ParseCIDR(fmt.Sprintf("10.214.%d.0/24", (os.Getpid()+i)%256))
		clash := false
		for _, a := range ifaces {
			if n, ok := a.(*net.IPNet); ok && (cand.Contains(n.IP) || n.Contains(cand.IP)) {
				clash = true
			}
		}
		if !clash {
			return cand.String(), nil
		}
	}
	return "", fmt.Errorf("no free /24 under 10.214.0.0/16")
}

// freePorts returns two TCP ports nothing listens on now.
func freePorts() (int, int, error) {
	var ports []int
	for range 2 {
		l, err := net.Listen("tcp4", "0.0.0.0:0")
		if err != nil {
			return 0, 0, err
		}
		defer l.Close()
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports[0], ports[1], nil
}
