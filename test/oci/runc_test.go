package oci

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/glassbox/glassbox/test/fixture"
)

// The tests in this file run each command on glassbox-oci and on runc side by side, on
// bundles that differ only in their cgroup, and compare what the two print and do.

// runcEnv is runc with a private --root.
type runcEnv struct {
	*fixture.CLI
	t *testing.T
}

func newRunc(t *testing.T) *runcEnv {
	t.Helper()
	bin := fixture.NeedBinary(t, "runc")
	return &runcEnv{CLI: &fixture.CLI{T: t, Bin: bin, Root: filepath.Join(t.TempDir(), "runc"), Files: true}, t: t}
}

// create creates a container with runc, deleted (forcibly) when the test ends.
func (r *runcEnv) create(id, bundle string) {
	r.t.Helper()
	r.t.Cleanup(func() { r.Run("delete", "--force", id) })
	r.Must("create", "--bundle", bundle, id)
}

// pair is one container made by each runtime from the same spec.
type pair struct {
	e            *ociEnv
	r            *runcEnv
	id           string
	gbBundle     string
	runcBundle   string
	gbPid, rcPid int
}

// newPair creates container id with glassbox-oci and with runc, each in a cgroup of its own
// named after the test, from the spec edit makes.
func newPair(t *testing.T, edit func(*specs.Spec), args ...string) *pair {
	t.Helper()
	e, r := newEnv(t), newRunc(t)
	p := &pair{e: e, r: r, id: containerID(t)}
	cgroup := func(who string) func(*specs.Spec) {
		return func(s *specs.Spec) {
			// Relative: both runtimes nest it under the cgroup they run in.
			s.Linux.CgroupsPath = "gbtest-" + who + "-" + p.id
			if edit != nil {
				edit(s)
			}
		}
	}
	p.gbBundle, p.runcBundle = e.bundle(cgroup("gb"), args...), e.bundle(cgroup("runc"), args...)
	e.create(p.id, p.gbBundle)
	r.create(p.id, p.runcBundle)
	p.gbPid, p.rcPid = e.state(p.id).Pid, runcState(t, r, p.id).Pid
	return p
}

func runcState(t *testing.T, r *runcEnv, id string) specs.State {
	t.Helper()
	var st specs.State
	r.JSON(&st, "state", id)
	return st
}

// keyOrder lists the keys of a JSON object in the order they are printed.
func keyOrder(t *testing.T, data string) []string {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(data))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("not a JSON object: %q", data)
	}
	var keys []string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, tok.(string))
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			t.Fatal(err)
		}
	}
	return keys
}

// keyPaths lists every object key path in a JSON document ("data/memory/usage/limit").
func keyPaths(v any, prefix string, out map[string]bool) {
	if m, ok := v.(map[string]any); ok {
		for k, child := range m {
			out[prefix+k] = true
			keyPaths(child, prefix+k+"/", out)
		}
	}
}

// v1File reads a cgroup v1 control file of the process's cgroup in controller's hierarchy
// (fails the test where no v1 hierarchy carries it: this machine's controllers are v1).
func v1File(t *testing.T, pid int, controller, file string) string {
	t.Helper()
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/cgroup")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		parts := strings.SplitN(sc.Text(), ":", 3)
		if len(parts) != 3 {
			continue
		}
		for _, c := range strings.Split(parts[1], ",") {
			if c == controller {
				b, err := os.ReadFile(filepath.Join("/sys/fs/cgroup", parts[1], parts[2], file))
				if err != nil {
					t.Fatalf("read %s of pid %d: %v", file, pid, err)
				}
				return string(bytes.TrimSpace(b))
			}
		}
	}
	fixture.Need(t, false, "no cgroup v1 hierarchy carries "+controller)
	return ""
}
