package runtime

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestRunHooks(t *testing.T) {
	sh := "/bin/sh"
	if _, err := os.Stat(sh); err != nil {
		t.Fatalf("hooks tests need %s: %v", sh, err)
	}
	state := specs.State{Version: specs.Version, ID: "c1", Status: specs.StateCreated, Pid: 42,
		Bundle: "/b", Annotations: map[string]string{"a": "b"}}
	secs := func(n int) *int { return &n }
	// A hook with env gets exactly that env, nothing of the runtime's.
	t.Setenv("GLASSBOX_HOOK_PARENT", "leaked")

	type result struct {
		err    string // substring of the error, "" for success
		output string // what the hooks wrote to the out file
	}
	tests := []struct {
		name  string
		hooks func(out string) []specs.Hook
		ctx   func() (context.Context, context.CancelFunc)
		want  result
	}{
		{"state on stdin, args with argv0, env exactly", func(out string) []specs.Hook {
			script := `echo "$(tr '\0' '\n' </proc/$$/cmdline | head -n 1) $1 $HOOKVAR ${GLASSBOX_HOOK_PARENT-unset}" > "$1"; cat >> "$1"`
			return []specs.Hook{{Path: sh, Args: []string{"hook-argv0", "-c", script, "zero", out},
				Env: []string{"HOOKVAR=v", "PATH=/usr/bin:/bin"}}}
		}, nil, result{output: "hook-argv0 OUT v unset\n" + `{"ociVersion":"` + specs.Version + `","id":"c1","status":"created","pid":42,"bundle":"/b","annotations":{"a":"b"}}`}},
		{"in order, all run", func(out string) []specs.Hook {
			return []specs.Hook{
				{Path: sh, Args: []string{"sh", "-c", `echo one >> "$0"`, out}},
				{Path: sh, Args: []string{"sh", "-c", `echo two >> "$0"`, out}},
			}
		}, nil, result{output: "one\ntwo\n"}},
		{"a failure stops the rest and quotes the output", func(out string) []specs.Hook {
			return []specs.Hook{
				{Path: sh, Args: []string{"sh", "-c", `echo bad hook >&2; exit 3`}},
				{Path: sh, Args: []string{"sh", "-c", `echo ran >> "$0"`, out}},
			}
		}, nil, result{err: "hook 0 (/bin/sh): exit status 3: bad hook"}},
		{"no args runs the path alone", func(out string) []specs.Hook {
			return []specs.Hook{{Path: "/bin/true"}}
		}, nil, result{}},
		{"missing binary", func(out string) []specs.Hook {
			return []specs.Hook{{Path: "/nonexistent/hook"}}
		}, nil, result{err: "hook 0 (/nonexistent/hook): fork/exec /nonexistent/hook: no such file or directory"}},
		{"timeout kills the hook", func(out string) []specs.Hook {
			return []specs.Hook{{Path: sh, Args: []string{"sh", "-c", "sleep 30"}, Timeout: secs(1)}}
		}, nil, result{err: "timed out after 1s"}},
		{"zero timeout is invalid", func(out string) []specs.Hook {
			return []specs.Hook{{Path: "/bin/true", Timeout: secs(0)}}
		}, nil, result{err: "must be greater than zero"}},
		{"a hook ignoring its stdin is fine", func(out string) []specs.Hook {
			return []specs.Hook{{Path: sh, Args: []string{"sh", "-c", "exec 0<&-; echo ok > " + out}}}
		}, nil, result{output: "ok\n"}},
		{"cancelled context", func(out string) []specs.Hook {
			return []specs.Hook{{Path: sh, Args: []string{"sh", "-c", "sleep 30"}}}
		}, func() (context.Context, context.CancelFunc) {
			return context.WithTimeout(context.Background(), 100*time.Millisecond)
		}, result{err: "signal: killed"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "out")
			ctx, cancel := context.Background(), context.CancelFunc(func() {})
			if tt.ctx != nil {
				ctx, cancel = tt.ctx()
			}
			defer cancel()
			start := time.Now()
			err := RunHooks(ctx, tt.hooks(out), state)
			if elapsed := time.Since(start); elapsed > 10*time.Second {
				t.Errorf("RunHooks took %v: a timeout or cancellation did not stop the hook", elapsed)
			}
			switch {
			case tt.want.err == "" && err != nil:
				t.Fatalf("RunHooks: %v", err)
			case tt.want.err != "" && (err == nil || !strings.Contains(err.Error(), tt.want.err)):
				t.Fatalf("RunHooks error %v, want one containing %q", err, tt.want.err)
			}
			got, _ := os.ReadFile(out)
			want := strings.ReplaceAll(tt.want.output, "OUT", out)
			if string(got) != want {
				t.Errorf("hooks wrote %q, want %q", got, want)
			}
		})
	}
}

// The state a hook reads is the runtime-spec state document, decodable as specs.State.
func TestRunHooksStateRoundTrip(t *testing.T) {
	out := filepath.Join(t.TempDir(), "state.json")
	in := specs.State{Version: specs.Version, ID: "x", Status: specs.StateRunning, Pid: 7, Bundle: "/bundle"}
	if err := RunHooks(context.Background(), []specs.Hook{{Path: "/bin/sh", Args: []string{"sh", "-c", `cat > "$0"`, out}}}, in); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var got specs.State
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatalf("hook read %q: %v", b, err)
	}
	if got.ID != in.ID || got.Status != in.Status || got.Pid != in.Pid || got.Bundle != in.Bundle {
		t.Errorf("hook read %+v, want %+v", got, in)
	}
}
