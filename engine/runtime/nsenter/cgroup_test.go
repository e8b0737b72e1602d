package nsenter

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/moby/sys/mountinfo"
)

// loadMounts reads a recorded mountinfo file's cgroup mounts.
func loadMounts(t *testing.T, name string) []*mountinfo.Info {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	mounts, err := mountinfo.GetMountsFromReader(f, mountinfo.FSTypeFilter("cgroup", "cgroup2"))
	if err != nil {
		t.Fatal(err)
	}
	return mounts
}

func TestResolveCgroupProcs(t *testing.T) {
	for _, tc := range []struct {
		name      string
		mountinfo string
		self      string
		target    string
		want      []string
		err       string
	}{
		{
			name:      "hybrid: v1 controllers and the unified hierarchy, only where the target differs",
			mountinfo: "mountinfo-hybrid",
			self:      "9:name=systemd:/\n8:pids:/\n4:memory:/process_api/abc\n2:cpuacct:/\n1:cpu:/\n0::/\n",
			target:    "9:name=systemd:/\n8:pids:/glassbox/c1\n4:memory:/process_api/abc/glassbox/c1\n2:cpuacct:/\n1:cpu:/glassbox/c1\n0::/glassbox/c1\n",
			want: []string{
				"/sys/fs/cgroup/pids/glassbox/c1/cgroup.procs",
				"/sys/fs/cgroup/memory/process_api/abc/glassbox/c1/cgroup.procs",
				"/sys/fs/cgroup/cpu/glassbox/c1/cgroup.procs",
				"/sys/fs/cgroup/unified/glassbox/c1/cgroup.procs",
			},
		},
		{
			name:      "v1 with joined controllers and a named hierarchy",
			mountinfo: "mountinfo-v1",
			self:      "3:cpu,cpuacct:/\n2:name=systemd:/user.slice\n1:memory:/\n",
			target:    "3:cpu,cpuacct:/docker/f00\n2:name=systemd:/docker/f00\n1:memory:/docker/f00\n",
			want: []string{
				"/sys/fs/cgroup/cpu,cpuacct/docker/f00/cgroup.procs",
				"/sys/fs/cgroup/systemd/docker/f00/cgroup.procs",
				"/sys/fs/cgroup/memory/docker/f00/cgroup.procs",
			},
		},
		{
			name:      "v2 only",
			mountinfo: "mountinfo-v2",
			self:      "0::/user.slice/user-0.slice/session-1.scope\n",
			target:    "0::/system.slice/docker-f00.scope\n",
			want:      []string{"/sys/fs/cgroup/system.slice/docker-f00.scope/cgroup.procs"},
		},
		{
			name:      "same cgroup everywhere: nothing to join",
			mountinfo: "mountinfo-v2",
			self:      "0::/a\n",
			target:    "0::/a\n",
		},
		{
			name:      "a hierarchy mounted nowhere is skipped",
			mountinfo: "mountinfo-v2",
			self:      "0::/a\n",
			target:    "5:freezer:/x\n0::/b\n",
			want:      []string{"/sys/fs/cgroup/b/cgroup.procs"},
		},
		{
			name:      "a mount of a sub-tree (inside a container): paths are below its root",
			mountinfo: "mountinfo-v2-subtree",
			self:      "0::/\n",
			target:    "0::/ctr/child\n",
			want:      []string{"/sys/fs/cgroup/child/cgroup.procs"},
		},
		{
			name:      "outside the sub-tree a mount shows: refused",
			mountinfo: "mountinfo-v2-subtree",
			self:      "0::/\n",
			target:    "0::/ctr2/child\n",
			err:       "outside every mount of its hierarchy",
		},
		{
			name:      "outside the caller's cgroup namespace: refused",
			mountinfo: "mountinfo-v2",
			self:      "0::/\n",
			target:    "0::/../../elsewhere\n",
			err:       "outside this cgroup namespace",
		},
		{
			name:      "malformed",
			mountinfo: "mountinfo-v2",
			self:      "0::/\n",
			target:    "garbage\n",
			err:       "malformed cgroup line",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := resolveCgroupProcs([]byte(tc.target), []byte(tc.self), loadMounts(t, tc.mountinfo))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("got  %q\nwant %q", got, tc.want)
			}
		})
	}
}

// TestRecordedCgroupProcs: a runtime's recorded directories stand in for the mount table only
// when every cgroup to join has one that ends with the path the kernel shows now.
func TestRecordedCgroupProcs(t *testing.T) {
	self := "9:name=systemd:/\n8:pids:/\n4:memory:/process_api/abc\n3:cpu,cpuacct:/\n0::/\n"
	target := "9:name=systemd:/\n8:pids:/glassbox/c1\n4:memory:/process_api/abc/glassbox/c1\n3:cpu,cpuacct:/glassbox/c1\n0::/glassbox/c1\n"
	recorded := map[string]string{
		"name=systemd": "/sys/fs/cgroup/systemd",
		"pids":         "/sys/fs/cgroup/pids/glassbox/c1",
		"memory":       "/sys/fs/cgroup/memory/process_api/abc/glassbox/c1",
		"cpu":          "/sys/fs/cgroup/cpu/glassbox/c1",
		"cpuacct":      "/sys/fs/cgroup/cpuacct/glassbox/c1",
		"unified":      "/sys/fs/cgroup/unified/glassbox/c1",
	}
	with := func(k, v string) map[string]string {
		m := map[string]string{}
		for a, b := range recorded {
			m[a] = b
		}
		if v == "" {
			delete(m, k)
		} else {
			m[k] = v
		}
		return m
	}
	for _, tc := range []struct {
		name     string
		target   string
		recorded map[string]string
		want     []string // nil: fall back to the mount table
	}{
		{"every hierarchy recorded", target, recorded, []string{
			"/sys/fs/cgroup/pids/glassbox/c1/cgroup.procs",
			"/sys/fs/cgroup/memory/process_api/abc/glassbox/c1/cgroup.procs",
			"/sys/fs/cgroup/cpu/glassbox/c1/cgroup.procs",
			"/sys/fs/cgroup/unified/glassbox/c1/cgroup.procs",
		}},
		{"joined controllers found by either name", target, with("cpu", ""), []string{
			"/sys/fs/cgroup/pids/glassbox/c1/cgroup.procs",
			"/sys/fs/cgroup/memory/process_api/abc/glassbox/c1/cgroup.procs",
			"/sys/fs/cgroup/cpuacct/glassbox/c1/cgroup.procs",
			"/sys/fs/cgroup/unified/glassbox/c1/cgroup.procs",
		}},
		{"no record", target, nil, nil},
		{"a hierarchy missing from the record", target, with("unified", ""), nil},
		{"the target moved since the record", strings.Replace(target, "8:pids:/glassbox/c1", "8:pids:/elsewhere", 1), recorded, nil},
		{"a record that is no suffix of the path", target, with("pids", "/sys/fs/cgroup/pids/xglassbox/c1x"), nil},
		{"a relative record", target, with("pids", "glassbox/c1"), nil},
		{"the target moved to a tail of the record's path", strings.Replace(target, "8:pids:/glassbox/c1", "8:pids:/c1", 1), recorded, nil},
		{"a record under no cgroup mount", target, with("pids", "/tmp/x/glassbox/c1"), nil},
		{"a record not clean", target, with("pids", "/sys/fs/cgroup/pids/../pids/glassbox/c1"), nil},
		{"a target outside this cgroup namespace", strings.Replace(target, "8:pids:/glassbox/c1", "8:pids:/../c1", 1), with("pids", "/sys/fs/cgroup/pids/../c1"), nil},
		{"at the root where the caller is not", strings.Replace(target, "9:name=systemd:/", "9:name=systemd:/x", 1),
			with("name=systemd", "/sys/fs/cgroup/systemd/x"), []string{
				"/sys/fs/cgroup/systemd/x/cgroup.procs",
				"/sys/fs/cgroup/pids/glassbox/c1/cgroup.procs",
				"/sys/fs/cgroup/memory/process_api/abc/glassbox/c1/cgroup.procs",
				"/sys/fs/cgroup/cpu/glassbox/c1/cgroup.procs",
				"/sys/fs/cgroup/unified/glassbox/c1/cgroup.procs",
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := recordedCgroupProcs([]byte(tc.target), []byte(self), tc.recorded)
			if tc.want == nil {
				if ok {
					t.Fatalf("used the record: %v", got)
				}
				return
			}
			if !ok || !slices.Equal(got, tc.want) {
				t.Fatalf("got %v (ok %v), want %v", got, ok, tc.want)
			}
		})
	}
}
