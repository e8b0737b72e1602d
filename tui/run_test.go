package tui

import (
	"reflect"
	"strings"
	"testing"

	"github.com/glassbox/glassbox/engine"
	"github.com/glassbox/glassbox/theme"
)

func TestSplitCommand(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
		err  bool
	}{
		{in: "sleep 100", want: []string{"sleep", "100"}},
		{in: "  sh   -c  'echo hi; date' ", want: []string{"sh", "-c", "echo hi; date"}},
		{in: `echo "a \"b\" c" d\ e`, want: []string{"echo", `a "b" c`, "d e"}},
		{in: `echo ''`, want: []string{"echo", ""}},
		{in: `echo 'oops`, err: true},
		{in: `echo "oops`, err: true},
	} {
		got, err := splitCommand(tc.in)
		if (err != nil) != tc.err || !tc.err && !reflect.DeepEqual(got, tc.want) {
			t.Errorf("splitCommand(%q) = %q, %v; want %q (error %v)", tc.in, got, err, tc.want, tc.err)
		}
	}
}

func TestParseBytes(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
		err  bool
	}{
		{in: "512", want: 512}, {in: "64m", want: 64 << 20}, {in: "1g", want: 1 << 30}, {in: "2kb", want: 2048},
		{in: "1.5m", want: 3 << 19}, {in: "lots", err: true}, {in: "-1m", err: true}, {in: "", err: true},
	} {
		got, err := parseBytes(tc.in)
		if (err != nil) != tc.err || got != tc.want {
			t.Errorf("parseBytes(%q) = %d, %v; want %d (error %v)", tc.in, got, err, tc.want, tc.err)
		}
	}
}

// The run dialog's fields become docker's flags; bad values are refused with the field named.
func TestRunDialogOptions(t *testing.T) {
	for _, tc := range []struct {
		name   string
		fields map[int]string
		check  func(engine.CreateOptions) bool
		errHas string
	}{
		{name: "defaults", fields: map[int]string{}, check: func(o engine.CreateOptions) bool {
			return o.Image == "busybox" && o.Tty && o.OpenStdin && o.Cmd == nil && !o.AutoRemove
		}},
		{name: "command", fields: map[int]string{runCmd: "sh -c 'sleep 1; echo hi'"}, check: func(o engine.CreateOptions) bool {
			return reflect.DeepEqual(o.Cmd, []string{"sh", "-c", "sleep 1; echo hi"})
		}},
		{name: "limits", fields: map[int]string{runMemory: "64m", runCPUs: "0.5", runPids: "20"}, check: func(o engine.CreateOptions) bool {
			return o.MemoryBytes == 64<<20 && o.NanoCPUs == 5e8 && o.PidsLimit == 20
		}},
		{name: "env", fields: map[int]string{runEnv: "A=1 'B=two words'"}, check: func(o engine.CreateOptions) bool {
			return reflect.DeepEqual(o.Env, []string{"A=1", "B=two words"})
		}},
		{name: "volumes", fields: map[int]string{runVolumes: "/tmp:/data:ro /srv:/srv"}, check: func(o engine.CreateOptions) bool {
			return reflect.DeepEqual(o.Volumes, []string{"/tmp:/data:ro", "/srv:/srv"})
		}},
		{name: "network and ports", fields: map[int]string{runNetwork: "bridge", runPorts: "8080:80"}, check: func(o engine.CreateOptions) bool {
			return o.Network == "bridge" && reflect.DeepEqual(o.Publish, []string{"8080:80"})
		}},
		{name: "rm", fields: map[int]string{runRemove: "y"}, check: func(o engine.CreateOptions) bool { return o.AutoRemove }},
		{name: "no image", fields: map[int]string{runImage: " "}, errHas: "image"},
		{name: "bad memory", fields: map[int]string{runMemory: "lots"}, errHas: "memory"},
		{name: "bad cpus", fields: map[int]string{runCPUs: "-1"}, errHas: "cpus"},
		{name: "bad pids", fields: map[int]string{runPids: "x"}, errHas: "pids"},
		{name: "bad env", fields: map[int]string{runEnv: "=x"}, errHas: "env"},
		{name: "bad volume", fields: map[int]string{runVolumes: "/tmp"}, errHas: "volume"},
		{name: "relative volume target", fields: map[int]string{runVolumes: "/tmp:data"}, errHas: "volume"},
		{name: "bad network", fields: map[int]string{runNetwork: "wifi"}, errHas: "network"},
		{name: "bad rm", fields: map[int]string{runRemove: "maybe"}, errHas: "--rm"},
		{name: "bad quote", fields: map[int]string{runCmd: "echo 'x"}, errHas: "command"},
	} {
		d := newRunDialog(theme.Dark(), nil, nil, []engine.ImageSummary{{ID: "sha256:1", RepoTags: []string{"busybox"}}}, engine.ImageSummary{})
		for i, v := range tc.fields {
			d.fields[i].SetValue(v)
		}
		o, err := d.options()
		switch {
		case tc.errHas != "":
			if err == nil || !strings.Contains(err.Error(), tc.errHas) {
				t.Errorf("%s: err %v, want one naming %q", tc.name, err, tc.errHas)
			}
		case err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case !tc.check(o):
			t.Errorf("%s: options %+v", tc.name, o)
		}
	}
}
