// Package tui_test drives the real glassbox binary's workbench in tmux, as a user would.
package tui_test

import (
	"strings"
	"testing"

	"github.com/glassbox/glassbox/test/fixture"
)

// TestWorkbenchPullAndLayers opens the workbench on an empty root, pulls an image through the
// pull dialog from a registry on 127.0.0.1, finds it in the images list, walks its layers in
// the Layers tab, and quits.
func TestWorkbenchPullAndLayers(t *testing.T) {
	fixture.NeedRoot(t)
	bin := fixture.Glassbox(t)
	reg := fixture.StartRegistry(t)
	img := fixture.MustBusybox(t, fixture.WithLayer("RUN echo hello > /etc/tui-hello",
		fixture.File("etc/tui-hello", "hello\n")))
	ref := reg.MustPush(t, "tui/busybox:e2e", img)
	root := t.TempDir()

	tm := startTerm(t, 120, 40, nil, bin, "--root", root)
	s := tm.waitFor("glassbox", "kernel ", "cgroup ", "Containers 0")
	header := strings.SplitN(s, "\n", 2)[0]
	for _, want := range []string{"overlay", "userns", "images 0"} {
		if !strings.Contains(header, want) {
			t.Errorf("header %q lacks %q", header, want)
		}
	}

	tm.send("p")
	tm.waitFor("Pull an image")
	tm.typeText(ref)
	tm.send("Enter")
	tm.waitFor("pulled ")
	tm.send("Enter")

	tm.send("i")
	tm.waitFor("Images 1", "tui/busybox:e2e")
	tm.send("2")
	// The tree arrives after the layer table: wait for both.
	s = tm.waitFor("efficiency", "echo hello > /etc/tui-hello", "+ -rw-r--r--")
	// The top layer is chosen: its tree holds the file it added, marked +.
	if !strings.Contains(s, "+ -rw-r--r--") || !strings.Contains(s, "tui-hello") {
		t.Errorf("the top layer's tree should show + etc/tui-hello:\n%s", s)
	}
	tm.send("Right", "[")
	tm.waitFor("busybox", "→ /bin/busybox")
	tm.send("m")
	tm.waitFor("merged view")

	tm.send("q")
	if code := tm.exited(); code != 0 {
		t.Errorf("the workbench exited %d, want 0:\n%s", code, tm.screen())
	}
	if r := fixture.NewCLI(t, root).Run("images"); r.Code != 0 || !strings.Contains(r.Stdout, "tui/busybox") {
		t.Errorf("the pulled image is not in the store: exit %d\n%s%s", r.Code, r.Stdout, r.Stderr)
	}
}

// TestWorkbenchStarterImage: on an empty store the workbench builds its starter image offline
// from the host's busybox and shows its layer.
func TestWorkbenchStarterImage(t *testing.T) {
	fixture.NeedRoot(t)
	fixture.NeedBinary(t, "busybox")
	bin := fixture.Glassbox(t)
	root := t.TempDir()
	tm := startTerm(t, 100, 30, nil, bin, "--root", root)
	tm.waitFor("b build starter image")
	tm.send("b")
	tm.waitFor("built glassbox/starter:busybox")
	tm.send("i", "2")
	tm.waitFor("glassbox/starter:busybox", "glassbox: COPY", "ash → /bin/busybox")
	tm.send("q")
	if code := tm.exited(); code != 0 {
		t.Errorf("exit %d", code)
	}
}

// TestWorkbenchNoColor: with NO_COLOR the screen carries no colour escape sequences.
func TestWorkbenchNoColor(t *testing.T) {
	fixture.NeedRoot(t)
	bin := fixture.Glassbox(t)
	tm := startTerm(t, 80, 24, []string{"NO_COLOR=1"}, bin, "--root", t.TempDir())
	tm.waitFor("glassbox", "kernel ")
	s := tm.tmux("capture-pane", "-p", "-e", "-t", "gb")
	for _, colour := range []string{"[38;", "[48;", "[31m", "[32m", "[34m", "[90m"} {
		if strings.Contains(s, colour) {
			t.Errorf("NO_COLOR screen has colour %q", colour)
		}
	}
	tm.send("q")
	tm.exited()
}
