package cgroups

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/glassbox/glassbox/engine/trace"
)

func TestDeviceRuleString(t *testing.T) {
	for _, tt := range []struct {
		rule specs.LinuxDeviceCgroup
		want string
	}{
		{specs.LinuxDeviceCgroup{Access: "rwm"}, "a"},
		{specs.LinuxDeviceCgroup{Type: "c", Major: i64(1), Minor: i64(3), Access: "rwm"}, "c 1:3 rwm"},
		{specs.LinuxDeviceCgroup{Type: "b", Major: i64(8), Access: "r"}, "b 8:* r"},
		{specs.LinuxDeviceCgroup{Type: "c", Minor: i64(-1)}, "c *:* rwm"},
	} {
		if got, err := deviceRuleString(tt.rule); got != tt.want || err != nil {
			t.Errorf("deviceRuleString(%+v) = %q, %v; want %q", tt.rule, got, err, tt.want)
		}
	}
	for _, bad := range []specs.LinuxDeviceCgroup{{Type: "x"}, {Type: "c", Access: "rwx"}} {
		if _, err := deviceRuleString(bad); err == nil {
			t.Errorf("deviceRuleString(%+v) succeeded", bad)
		}
	}
	if _, err := DeviceFilter(sampleResources().Devices); err != nil {
		t.Errorf("DeviceFilter: %v", err)
	}
}

// TestDeviceFilterShape: the last matching rule wins, so an unconditional rule hides the rules
// before it, and the program always ends in a verdict.
func TestDeviceFilterShape(t *testing.T) {
	const loads = 6
	for _, tt := range []struct {
		name  string
		rules []specs.LinuxDeviceCgroup
		n     int
	}{
		{"no rules: deny", nil, loads + 2},
		{"allow all", []specs.LinuxDeviceCgroup{{Allow: true}}, loads + 2},
		{"deny all after an allow hides the allow", []specs.LinuxDeviceCgroup{
			{Allow: true, Type: "c", Major: i64(1), Minor: i64(3)}, {Allow: false}}, loads + 2},
		// type, major, minor checks, verdict, exit; then the default deny with its label.
		{"one char device", []specs.LinuxDeviceCgroup{{Allow: false}, {Allow: true, Type: "c", Major: i64(1), Minor: i64(3)}}, loads + 5 + 2},
		// access check adds three instructions.
		{"read only", []specs.LinuxDeviceCgroup{{Allow: false}, {Allow: true, Type: "c", Major: i64(1), Minor: i64(8), Access: "r"}}, loads + 8 + 2},
	} {
		insns, err := DeviceFilter(tt.rules)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if len(insns) != tt.n {
			t.Errorf("%s: %d instructions, want %d:\n%v", tt.name, len(insns), tt.n, insns)
		}
		if last := insns[len(insns)-1]; last.OpCode.JumpOp().String() != "Exit" {
			t.Errorf("%s: ends with %v, not exit", tt.name, last)
		}
	}
}

// TestDeviceUpdateV1ByDifference: a running container's whitelist changes by allowing the new
// devices first and denying the stale ones after, never through a deny-everything moment.
func TestDeviceUpdateV1ByDifference(t *testing.T) {
	c, cfg := createdFake(t, "hybrid", nil)
	// What the kernel lists after a deny-all-then-allow policy.
	os.WriteFile(filepath.Join(c.Path("devices"), "devices.list"), []byte("c 1:3 rwm\nc 136:* rwm\nc 1:9 rwm\n"), 0o644)
	rec := trace.New(time.Now())
	c.SetTrace(rec)
	err := c.Update(&specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{
		{Access: "rwm"},
		{Allow: true, Type: "c", Major: i64(136), Access: "rwm"},
		{Allow: true, Type: "c", Major: i64(1), Minor: i64(5), Access: "r"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		`write /devices/glassbox/c1/devices.allow "c 1:5 r"`,
		`write /devices/glassbox/c1/devices.deny "c 1:3 rwm"`,
		`write /devices/glassbox/c1/devices.deny "c 1:9 rwm"`,
	}
	if got := writes(rec, cfg.Root); !reflect.DeepEqual(got, want) {
		t.Errorf("writes:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// A rule written again with no rule of the other kind between is left out (it changes
// nothing); after a deny, the same allow is written again.
func TestDevicesV1SkipsRepeats(t *testing.T) {
	c, cfg := createdFake(t, "hybrid", nil)
	rec := trace.New(time.Now())
	c.SetTrace(rec)
	allow := func(minor int64) specs.LinuxDeviceCgroup {
		return specs.LinuxDeviceCgroup{Allow: true, Type: "c", Major: i64(1), Minor: i64(minor), Access: "rwm"}
	}
	deny := allow(5)
	deny.Allow = false
	err := c.Update(&specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{
		{Access: "rwm"}, allow(3), allow(5), allow(3), deny, allow(5), allow(5), allow(3),
	}})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		`write /devices/glassbox/c1/devices.deny "a"`,
		`write /devices/glassbox/c1/devices.allow "c 1:3 rwm"`,
		`write /devices/glassbox/c1/devices.allow "c 1:5 rwm"`,
		`write /devices/glassbox/c1/devices.deny "c 1:5 rwm"`,
		`write /devices/glassbox/c1/devices.allow "c 1:5 rwm"`,
		`write /devices/glassbox/c1/devices.allow "c 1:3 rwm"`,
	}
	if got := writes(rec, cfg.Root); !reflect.DeepEqual(got, want) {
		t.Errorf("writes:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
