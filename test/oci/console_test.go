package oci

import (
	"bytes"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// consoleSocket listens where --console-socket points and returns the first pty master sent
// to it, as conmon receives it.
func consoleSocket(t *testing.T) (path string, master func() *os.File) {
	t.Helper()
	path = filepath.Join(t.TempDir(), "console.sock")
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	got := make(chan *os.File, 1)
	errs := make(chan error, 1)
	go func() {
		conn, err := l.AcceptUnix()
		if err != nil {
			errs <- err
			return
		}
		defer conn.Close()
		buf, oob := make([]byte, 4096), make([]byte, unix.CmsgSpace(4))
		_, oobn, _, _, err := conn.ReadMsgUnix(buf, oob)
		if err != nil {
			errs <- err
			return
		}
		msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
		if err != nil || len(msgs) != 1 {
			errs <- err
			return
		}
		fds, err := unix.ParseUnixRights(&msgs[0])
		if err != nil || len(fds) != 1 {
			errs <- err
			return
		}
		got <- os.NewFile(uintptr(fds[0]), "pty master")
	}()
	return path, func() *os.File {
		select {
		case f := <-got:
			t.Cleanup(func() { f.Close() })
			return f
		case err := <-errs:
			t.Fatalf("console socket: %v", err)
		case <-time.After(10 * time.Second):
			t.Fatal("nothing arrived on the console socket")
		}
		return nil
	}
}

// readUntil reads the pty master until want appears (or fails the test after a while).
func readUntil(t *testing.T, master *os.File, want string) string {
	t.Helper()
	var got bytes.Buffer
	buf := make([]byte, 4096)
	master.SetReadDeadline(time.Now().Add(10 * time.Second))
	for !strings.Contains(got.String(), want) {
		n, err := master.Read(buf)
		got.Write(buf[:n])
		if err != nil {
			t.Fatalf("reading the console for %q: %v; read %q", want, err, got.String())
		}
	}
	return got.String()
}

// TestConsoleSocket: with process.terminal, create sends the pty master to --console-socket
// (podman -t and conmon depend on it) and the container's shell runs on that terminal; exec -t
// does the same for a new process.
func TestConsoleSocket(t *testing.T) {
	e := newEnv(t)
	id := containerID(t)
	bundle := e.bundle(func(s *specs.Spec) { s.Process.Terminal = true }, "sh")
	sock, master := consoleSocket(t)
	e.create(id, bundle, "--console-socket", sock)
	m := master()
	if _, err := unix.IoctlGetInt(int(m.Fd()), unix.TIOCGPTN); err != nil {
		t.Fatalf("what arrived is not a pty master: %v", err)
	}
	e.Must("start", id)
	m.Write([]byte("tty; echo marker-$((40+2))\n"))
	if out := readUntil(t, m, "marker-42"); !strings.Contains(out, "/dev/pts/0") {
		t.Errorf("the container's shell is not on its own terminal: %q", out)
	}

	sock2, master2 := consoleSocket(t)
	pidFile := filepath.Join(t.TempDir(), "exec.pid")
	e.Must("exec", "-t", "-d", "--console-socket", sock2, "--pid-file", pidFile, id, "sh", "-c", "echo exec-$((6*7)); sleep 100")
	readUntil(t, master2(), "exec-42")
	if pid, err := os.ReadFile(pidFile); err != nil || len(pid) == 0 {
		t.Errorf("exec --pid-file: %q %v", pid, err)
	}
	wantCode(t, "exec -t -d without a console socket", e.Run("exec", "-t", "-d", id, "true"), 1, "console socket")
}

// TestHooks: the spec's hooks run at their points, with the state on stdin.
func TestHooks(t *testing.T) {
	e := newEnv(t)
	id := containerID(t)
	out := t.TempDir()
	hook := func(name string) []specs.Hook {
		return []specs.Hook{{Path: "/bin/sh", Args: []string{"sh", "-c", `cat > "$0"`, filepath.Join(out, name)}}}
	}
	bundle := e.bundle(func(s *specs.Spec) {
		s.Hooks = &specs.Hooks{CreateRuntime: hook("createRuntime"), CreateContainer: hook("createContainer"),
			StartContainer: hook("startContainer"), Poststart: hook("poststart"), Poststop: hook("poststop")}
		// createContainer and startContainer run in the container's namespaces: the
		// directory is bound at the same path inside.
		s.Mounts = append(s.Mounts, specs.Mount{Destination: out, Source: out, Type: "bind", Options: []string{"rbind", "rw"}})
	}, "true")
	if r := e.Run("run", "--bundle", bundle, id); r.Code != 0 {
		t.Fatalf("run with hooks: exit %d: %s", r.Code, r.Stderr)
	}
	for _, name := range []string{"createRuntime", "createContainer", "startContainer", "poststart", "poststop"} {
		data, err := os.ReadFile(filepath.Join(out, name))
		if err != nil {
			t.Errorf("%s hook did not run: %v", name, err)
			continue
		}
		var st specs.State
		if err := json.Unmarshal(data, &st); err != nil || st.ID != id || st.Bundle != bundle {
			t.Errorf("%s hook read %q (%v), want the state of %s", name, data, err, id)
			continue
		}
		if name == "poststop" && st.Status != specs.StateStopped {
			t.Errorf("poststop hook saw status %s, want stopped", st.Status)
		}
	}
	// A failing createRuntime hook fails the create and leaves nothing behind.
	id2 := id + "-fail"
	bad := e.bundle(func(s *specs.Spec) {
		s.Hooks = &specs.Hooks{CreateRuntime: []specs.Hook{{Path: "/bin/sh", Args: []string{"sh", "-c", "echo hook says no >&2; exit 1"}}}}
	}, "true")
	t.Cleanup(func() { e.Run("delete", "--force", id2) })
	wantCode(t, "create with a failing hook", e.Run("create", "--bundle", bad, id2), 1, "hook says no")
	wantCode(t, "state after a failed create", e.Run("state", id2), 1, "container does not exist")
}
