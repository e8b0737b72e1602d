// Package lifecycle tests glassbox's container verbs end to end, as root: the real binary,
// real shims, real containers from images built at test time and served on 127.0.0.1.
package lifecycle

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/glassbox/glassbox/engine"
	"github.com/glassbox/glassbox/test/fixture"
)

type result struct {
	stdout, stderr string
	code           int
}

// env is one test's glassbox root with busybox pulled into it.
type env struct {
	t     *testing.T
	root  string
	image string
}

var (
	regOnce sync.Once
	reg     *fixture.Registry
	busy    string
)

func newEnv(t *testing.T) *env {
	t.Helper()
	fixture.NeedRoot(t)
	fixture.NeedBinary(t, "runc")
	regOnce.Do(func() {
		reg = fixture.NewRegistry()
		img, err := fixture.Busybox(fixture.WithCmd("sh"))
		if err != nil {
			panic(err)
		}
		busy, err = reg.Push("busybox:latest", img)
		if err != nil {
			panic(err)
		}
	})
	e := &env{t: t, root: t.TempDir(), image: busy}
	if r := e.gb("pull", "-q", busy); r.code != 0 {
		if r = e.gb("pull", busy); r.code != 0 {
			t.Fatalf("pull: %+v", r)
		}
	}
	t.Cleanup(e.cleanup)
	return e
}

// cleanup force-removes every container the test left, then checks nothing stays mounted.
func (e *env) cleanup() {
	r := e.gb("ps", "-a", "-q", "--no-trunc")
	for _, id := range strings.Fields(r.stdout) {
		e.gb("rm", "-f", id)
	}
	e.gb("gc")
	data, _ := os.ReadFile("/proc/self/mountinfo")
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) > 4 && strings.HasPrefix(f[4], e.root) {
			e.t.Errorf("left mounted: %s", f[4])
			exec.Command("umount", "-l", f[4]).Run()
		}
	}
}

func (e *env) gb(args ...string) result {
	e.t.Helper()
	return e.gbIn(nil, args...)
}

func (e *env) gbIn(stdin []byte, args ...string) result {
	e.t.Helper()
	cmd := exec.Command(fixture.Glassbox(e.t), append([]string{"--root", e.root}, args...)...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	err := cmd.Run()
	r := result{stdout: out.String(), stderr: errb.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		r.code = ee.ExitCode()
	} else if err != nil {
		e.t.Fatalf("glassbox %v: %v", args, err)
	}
	return r
}

func (e *env) must(args ...string) string {
	e.t.Helper()
	r := e.gb(args...)
	if r.code != 0 {
		e.t.Fatalf("glassbox %s: exit %d: %s%s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return strings.TrimSpace(r.stdout)
}

func (e *env) inspect(ref string) engine.ContainerDetail {
	e.t.Helper()
	var ds []engine.ContainerDetail
	if err := json.Unmarshal([]byte(e.must("inspect", ref)), &ds); err != nil || len(ds) != 1 {
		e.t.Fatalf("inspect %s: %v", ref, err)
	}
	return ds[0]
}

func (e *env) ps(all bool) []engine.Container {
	e.t.Helper()
	args := []string{"--format", "json", "ps"}
	if all {
		args = append(args, "-a")
	}
	var cs []engine.Container
	if err := json.Unmarshal([]byte(e.must(args...)), &cs); err != nil {
		e.t.Fatalf("ps json: %v", err)
	}
	return cs
}

// waitFor polls cond (no timing is asserted: the deadline only bounds a hang).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("gave up waiting for %s", what)
}

func name(t *testing.T) string {
	return strings.ToLower(strings.NewReplacer("/", "-", " ", "-").Replace(t.Name())) + fmt.Sprint(os.Getpid())
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

var _ = filepath.Join
