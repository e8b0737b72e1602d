package engine

import (
	"encoding/json"
	"testing"
	"time"
)

// TestExecEventLine: the hand-written event line is the JSON of the Event it stands for,
// whatever bytes the command holds.
func TestExecEventLine(t *testing.T) {
	for _, cmd := range []string{
		"true",
		`sh -c "echo \"hi\" \\ there"`,
		"printf '\x00\x01\x1b[31m\t\n'",
		"\xff\xfe not utf-8 \xc3",
		"ünïcødé ✓ </script>&",
	} {
		ev := &execEvents{id: "c0ffee", name: "web", image: "busybox:latest", execID: "e1", cmd: cmd}
		line := ev.line("exec_create: "+cmd, map[string]string{"exitCode": "3", "z\"k": "v\x02"})
		if line[len(line)-1] != '\n' {
			t.Fatalf("%q: line does not end with a newline", cmd)
		}
		var got Event
		if err := json.Unmarshal(line, &got); err != nil {
			t.Fatalf("%q: %s: %v", cmd, line, err)
		}
		want, _ := json.Marshal(Event{Action: "exec_create: " + cmd})
		var wantEv Event
		json.Unmarshal(want, &wantEv)
		if got.Action != wantEv.Action || got.ContainerID != "c0ffee" || got.Name != "web" || got.Image != "busybox:latest" {
			t.Errorf("%q: decoded %+v", cmd, got)
		}
		if time.Since(got.Time) > time.Minute || got.Time.IsZero() {
			t.Errorf("%q: time %v", cmd, got.Time)
		}
		attrs := map[string]string{"execID": "e1", "name": "web", "image": "busybox:latest", "exitCode": "3", "z\"k": "v\x02"}
		if len(got.Attributes) != len(attrs) {
			t.Errorf("%q: attributes %v, want %v", cmd, got.Attributes, attrs)
		}
		for k, v := range attrs {
			if got.Attributes[k] != v {
				t.Errorf("%q: attribute %q = %q, want %q", cmd, k, got.Attributes[k], v)
			}
		}
	}
}
