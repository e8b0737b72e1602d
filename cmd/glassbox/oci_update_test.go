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

func TestKeepCPUMax(t *testing.T) {
	u := func(v uint64) *uint64 { return &v }
	i := func(v int64) *int64 { return &v }
	cases := []struct {
		name                string
		cpuMax, controllers string
		in                  specs.LinuxCPU
		wantQuota           *int64
		wantPeriod          *uint64
	}{
		{"lone period keeps the quota", "50000 100000", "cpu memory", specs.LinuxCPU{Period: u(200000)}, i(50000), u(200000)},
		// "QUOTA" alone in cpu.max keeps the kernel's period: nothing to add.
		{"lone quota", "50000 100000", "cpu", specs.LinuxCPU{Quota: i(20000)}, i(20000), nil},
		{"no quota to keep", "max 100000", "cpu", specs.LinuxCPU{Period: u(200000)}, nil, u(200000)},
		{"both given", "50000 100000", "cpu", specs.LinuxCPU{Quota: i(1000), Period: u(2000)}, i(1000), u(2000)},
		{"cpu not in cgroup2", "50000 100000", "memory", specs.LinuxCPU{Period: u(200000)}, nil, u(200000)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			paths := fakeCgroup2(t, tc.controllers, map[string]string{"cpu.max": tc.cpuMax})
			cpu := tc.in
			keepCPUMax(paths, &specs.LinuxResources{CPU: &cpu})
			if (cpu.Quota == nil) != (tc.wantQuota == nil) || (cpu.Quota != nil && *cpu.Quota != *tc.wantQuota) {
				t.Errorf("quota = %v, want %v", ptrString(cpu.Quota), ptrString(tc.wantQuota))
			}
			if (cpu.Period == nil) != (tc.wantPeriod == nil) || (cpu.Period != nil && *cpu.Period != *tc.wantPeriod) {
				t.Errorf("period = %v, want %v", ptrString(cpu.Period), ptrString(tc.wantPeriod))
			}
		})
	}
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
