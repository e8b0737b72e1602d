package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/spf13/cobra"
)

// fakeCgroup2 makes a cgroup2-like directory with the given controllers and files.
func fakeCgroup2(t *testing.T, controllers string, files map[string]string) map[string]string {
	t.Helper()
	dir := t.TempDir()
	files["cgroup.controllers"] = controllers
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return map[string]string{"unified": dir}
}

func ptrString[T any](p *T) any {
	if p == nil {
		return "nil"
	}
	return *p
}

// TestUpdateFlags: runc update's flags become the spec's resources; what is not given stays
// nil, so its cgroup file is left alone; -r reads the resources JSON and ignores the flags.
func TestUpdateFlags(t *testing.T) {
	parse := func(stdin string, args ...string) (*specs.LinuxResources, error) {
		cmd := &cobra.Command{}
		var f updateFlags
		f.bind(cmd.Flags())
		if err := cmd.ParseFlags(args); err != nil {
			return nil, err
		}
		cmd.SetIn(strings.NewReader(stdin))
		return f.linuxResources(cmd)
	}
	res, err := parse("", "--memory", "200m", "--cpu-quota", "-1", "--cpu-share", "512", "--pids-limit", "-1", "--cpuset-cpus", "0-1")
	if err != nil {
		t.Fatal(err)
	}
	if res.Memory == nil || *res.Memory.Limit != 200<<20 || res.Memory.Swap != nil || res.Memory.Reservation != nil {
		t.Errorf("memory = %+v", res.Memory)
	}
	if res.CPU == nil || *res.CPU.Quota != -1 || *res.CPU.Shares != 512 || res.CPU.Period != nil || res.CPU.Cpus != "0-1" {
		t.Errorf("cpu = %+v", res.CPU)
	}
	if res.Pids == nil || *res.Pids.Limit != -1 || res.BlockIO != nil {
		t.Errorf("pids = %+v, blkio = %+v", res.Pids, res.BlockIO)
	}
	if res, err := parse(""); err != nil || res.Memory != nil || res.CPU != nil || res.Pids != nil {
		t.Errorf("no flags: %+v, %v; want nothing to change", res, err)
	}
	res, err = parse(`{"memory": {"limit": 1048576}}`, "-r", "-", "--pids-limit", "5")
	if err != nil || res.Memory == nil || *res.Memory.Limit != 1<<20 || res.Pids != nil {
		t.Errorf("-r - = %+v, %v; want the JSON's memory and no pids", res, err)
	}
	for _, bad := range [][]string{
		{"--memory", "lots"}, {"--cpu-quota", "x"}, {"--cpu-share", "-5"}, {"--blkio-weight", "5"},
		{"-r", "/nonexistent/resources.json"},
	} {
		if _, err := parse("", bad...); err == nil {
			t.Errorf("%v: no error", bad)
		}
	}
	if _, err := parse("{", "-r", "-"); err == nil || !strings.Contains(err.Error(), "parse resources") {
		t.Errorf("-r - with bad JSON: %v", err)
	}
}
