package main

import (
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// Every verb is registered under the name its command answers to: the lazy root builds a verb
// by that name alone, so a mismatch would make the verb unreachable by its own name.
func TestVerbsAreRegisteredUnderTheirNames(t *testing.T) {
	if len(commands) == 0 {
		t.Fatal("no verbs registered")
	}
	seen := map[string]bool{}
	for _, c := range commands {
		if seen[c.name] {
			t.Errorf("verb %q registered twice", c.name)
		}
		seen[c.name] = true
		if got := c.build(&globals{}).Name(); got != c.name {
			t.Errorf("verb registered as %q builds a command named %q", c.name, got)
		}
	}
}

func TestRootBuildsOnlyTheVerbItRuns(t *testing.T) {
	tests := []struct {
		args []string
		want string // "" = the whole tree
	}{
		{[]string{"exec", "c", "true"}, "exec"},
		{[]string{"--root", "/tmp/x", "exec", "c", "true"}, "exec"},
		{[]string{"--root=/tmp/x", "--debug", "version"}, "version"},
		{[]string{"--format", "json", "ps"}, "ps"},
		{[]string{"--root", "ps", "images"}, "images"}, // "ps" is --root's value
		{[]string{"exec", "--help"}, "exec"},
		{[]string{"help", "exec"}, ""},
		{[]string{"__complete", "ex"}, ""},
		{[]string{"nosuchverb"}, ""},
		{[]string{"--", "exec"}, ""},
		{[]string{"--debug"}, ""},
		{nil, ""},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			root := newRootCmd(tt.args)
			var names []string
			for _, c := range root.Commands() {
				names = append(names, c.Name())
			}
			if tt.want == "" {
				if len(names) != len(commands) {
					t.Fatalf("built %d verbs %v, want all %d", len(names), names, len(commands))
				}
				return
			}
			if len(names) != 1 || names[0] != tt.want {
				t.Fatalf("built %v, want only %s", names, tt.want)
			}
		})
	}
}

// `glassbox completion bash` still works: it names no verb, so the whole tree and cobra's
// completion command are built.
func TestCompletionStillBuilt(t *testing.T) {
	var out strings.Builder
	args := []string{"completion", "bash"}
	root := newRootCmd(args)
	root.SetArgs(args)
	root.SetOut(&out)
	if err := root.Execute(); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "bash completion") || !strings.Contains(out.String(), "glassbox") {
		t.Fatalf("completion bash printed %.200q", out.String())
	}
}

// The verb built alone parses and runs as it does in the whole tree.
func TestLazyRootRunsTheVerb(t *testing.T) {
	var out strings.Builder
	root := newRootCmd([]string{"--root", t.TempDir(), "version"})
	root.SetArgs([]string{"--root", t.TempDir(), "version"})
	root.SetOut(&out)
	if err := root.Execute(); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out.String(), "glassbox version ") {
		t.Fatalf("version printed %q", out.String())
	}
}

// A verb that takes no arguments says so, naming itself, instead of cobra's "unknown command".
func TestNoArgsSaysSo(t *testing.T) {
	cmd := &cobra.Command{Use: "load -i FILE"}
	parent := &cobra.Command{Use: "glassbox"}
	parent.AddCommand(cmd)
	if err := noArgs(cmd, nil); err != nil {
		t.Fatalf("no arguments refused: %v", err)
	}
	err := noArgs(cmd, []string{"oci"})
	if err == nil || !strings.Contains(err.Error(), `"glassbox load" accepts no arguments`) || !strings.Contains(err.Error(), "glassbox load -i FILE") {
		t.Fatalf("error %v", err)
	}
}
