package oci

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/glassbox/glassbox/test/fixture"
)

// podmanEnv is a private podman (its own --root and --runroot, a registries.conf that trusts
// the loopback registry) whose OCI runtime is the glassbox-oci link.
type podmanEnv struct {
	t                                  *testing.T
	runtime, root, run, reg, stateRoot string
}

func newPodman(t *testing.T, runtime string) *podmanEnv {
	t.Helper()
	fixture.NeedBinary(t, "podman")
	fixture.NeedBinary(t, "conmon")
	// conmon's attach socket path must fit in sun_path: a short directory, not t.TempDir().
	dir, err := os.MkdirTemp("", "gbo")
	if err != nil {
		t.Fatal(err)
	}
	p := &podmanEnv{t: t, runtime: runtime, root: filepath.Join(dir, "root"), run: filepath.Join(dir, "run"),
		reg: filepath.Join(dir, "registries.conf"), stateRoot: filepath.Join(dir, "oci")}
	t.Cleanup(func() {
		p.podman("rm", "--all", "--force", "--time", "0")
		p.podman("rmi", "--all", "--force")
		fixture.UnmountUnder(dir)
		os.RemoveAll(dir)
	})
	return p
}

func (p *podmanEnv) podman(args ...string) fixture.Result {
	p.t.Helper()
	// --runtime-flag root=DIR: podman passes no --root of its own, and the runtime's
	// default (/run/glassbox) is not this test's.
	all := append([]string{"--root", p.root, "--runroot", p.run, "--runtime", p.runtime, "--runtime-flag", "root=" + p.stateRoot,
		"--cgroup-manager", "cgroupfs", "--events-backend", "none", "--storage-driver", "overlay"}, args...)
	cli := &fixture.CLI{T: p.t, Bin: "podman"}
	cmd := cli.Command(all...)
	cmd.Env = append(os.Environ(), "CONTAINERS_REGISTRIES_CONF="+p.reg)
	return cli.RunCmd(cmd)
}

// podmanRun is `podman run` with the limits this machine needs (its hard nofile/nproc limits
// are below podman's defaults) and no network.
func (p *podmanEnv) runArgs(args ...string) []string {
	return append([]string{"run", "--network", "none", "--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024"}, args...)
}

// TestPodman is the headline: podman with glassbox as its OCI runtime runs a container from
// a registry image, execs into it and stops it.
func TestPodman(t *testing.T) {
	e := newEnv(t)
	reg := fixture.StartRegistry(t)
	ref := reg.MustPush(t, "busybox:latest", fixture.MustBusybox(t))
	p := newPodman(t, e.bin)
	if err := os.WriteFile(p.reg, []byte(fmt.Sprintf("[[registry]]\nlocation = %q\ninsecure = true\n", reg.Addr)), 0o644); err != nil {
		t.Fatal(err)
	}
	if r := p.podman("pull", "-q", ref); r.Code != 0 {
		t.Fatalf("podman pull: exit %d: %s", r.Code, r.Stderr)
	}

	r := p.podman(p.runArgs("--rm", ref, "echo", "hi")...)
	if r.Code != 0 || strings.TrimSpace(r.Stdout) != "hi" {
		t.Fatalf("podman --runtime glassbox-oci run --rm %s echo hi: exit %d, stdout %q, stderr %s", ref, r.Code, r.Stdout, r.Stderr)
	}
	// -t: conmon passes --console-socket and receives the container's pty master.
	if r := p.podman(p.runArgs("--rm", "-t", ref, "sh", "-c", "tty; echo tty-ok")...); r.Code != 0 || !strings.Contains(r.Stdout, "/dev/pts/0") || !strings.Contains(r.Stdout, "tty-ok") {
		t.Errorf("podman run -t: exit %d, stdout %q, stderr %s", r.Code, r.Stdout, r.Stderr)
	}
	if r := p.podman(p.runArgs("--rm", ref, "sh", "-c", "exit 42")...); r.Code != 42 {
		t.Errorf("podman run exit 42: exit %d (%s)", r.Code, r.Stderr)
	}

	r = p.podman(p.runArgs("-d", ref, "sleep", "1000")...)
	if r.Code != 0 {
		t.Fatalf("podman run -d: exit %d: %s", r.Code, r.Stderr)
	}
	cid := strings.TrimSpace(r.Stdout)
	if r := p.podman("exec", cid, "sh", "-c", "echo $((6*7)) from $(hostname)"); r.Code != 0 || !strings.HasPrefix(r.Stdout, "42 from ") {
		t.Errorf("podman exec: exit %d, stdout %q, stderr %s", r.Code, r.Stdout, r.Stderr)
	}
	if r := p.podman("exec", cid, "sh", "-c", "exit 5"); r.Code != 5 {
		t.Errorf("podman exec exit 5: exit %d (%s)", r.Code, r.Stderr)
	}
	if r := p.podman("inspect", "--format", "{{.State.Status}} {{.OCIRuntime}}", cid); !strings.HasPrefix(r.Stdout, "running") {
		t.Errorf("podman inspect: %q %s", r.Stdout, r.Stderr)
	}
	if r := p.podman("stop", "--time", "1", cid); r.Code != 0 {
		t.Errorf("podman stop: exit %d: %s", r.Code, r.Stderr)
	}
	if r := p.podman("inspect", "--format", "{{.State.Status}}", cid); strings.TrimSpace(r.Stdout) != "exited" {
		t.Errorf("after podman stop: %q %s, want exited", r.Stdout, r.Stderr)
	}
	if r := p.podman("rm", "--force", "--time", "1", cid); r.Code != 0 {
		t.Errorf("podman rm -f: exit %d: %s", r.Code, r.Stderr)
	}
}
