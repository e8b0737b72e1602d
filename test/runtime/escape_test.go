package runtime_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/glassbox/glassbox/engine/runtime"
)

// TestCVE2019_5736InitBinaryNotWritable: while the init runs glassbox, a process that holds
// its /proc/PID/exe (as the container's own processes could) must not be able to reopen it
// for writing once the init is gone: the init runs from a read-only mount of the binary.
func TestCVE2019_5736InitBinaryNotWritable(t *testing.T) {
	fixtureNeedRoot(t)
	stateDir := t.TempDir()
	r, err := runtime.New(runtime.Options{StateDir: stateDir})
	if err != nil {
		t.Fatal(err)
	}
	// The runtime runs from a copy of the test binary that nothing else executes, so that a
	// write is refused for the protection's sake, not because the file is busy.
	pid := createDetached(t, r, stateDir, "cve-2019-5736", bundle(t, "", nil, "true"))
	exe, err := unix.Open(fmt.Sprintf("/proc/%d/exe", pid), unix.O_PATH|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(exe)
	unix.Kill(pid, unix.SIGKILL)
	waitGone(t, pid)
	// The init's other threads may still hold the binary (ETXTBSY) a moment after it is a
	// zombie: retry until they have let go.
	var fd int
	for i := 0; i < 2000; i++ {
		fd, err = unix.Open(fmt.Sprintf("/proc/self/fd/%d", exe), unix.O_WRONLY|unix.O_CLOEXEC, 0)
		if !errors.Is(err, unix.ETXTBSY) {
			break
		}
		time.Sleep(time.Millisecond)
	}
	if err == nil {
		unix.Close(fd) // nothing written
		t.Fatal("the init's binary opened for writing through its /proc/PID/exe")
	}
	if !errors.Is(err, unix.EROFS) && !errors.Is(err, unix.EPERM) {
		t.Fatalf("open for writing: %v, want EROFS (read-only mount) or EPERM (sealed memfd)", err)
	}
}

// TestCVE2024_21626NoHostFDOrCwd: descriptors the caller leaves open without close-on-exec,
// and the caller's working directory, do not reach the container.
func TestCVE2024_21626NoHostFDOrCwd(t *testing.T) {
	r := newRuntime(t)
	hostDir := t.TempDir()
	leak, err := syscall.Open(hostDir, syscall.O_RDONLY|syscall.O_DIRECTORY, 0) // no O_CLOEXEC
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Close(leak)
	wd, _ := os.Getwd()
	if err := os.Chdir(hostDir); err != nil {
		t.Fatal(err)
	}
	defer os.Chdir(wd)
	res := run(t, r, bundle(t, "", func(s *specs.Spec) { s.Process.Cwd = "/" },
		// No command substitution around ls (its pipe would be one of sh's descriptors), and not
		// the last command (sh would exec it: ls's own directory descriptor would show).
		"sh", "-c", `echo cwd=$(readlink /proc/$$/cwd); echo fds:; ls /proc/$$/fd; echo end`))
	f := fields(res.out)
	_, fds, _ := strings.Cut(res.out, "fds:\n")
	if got := strings.Join(strings.Fields(strings.TrimSuffix(fds, "end\n")), " "); got != "0 1 2" {
		t.Errorf("descriptors in the container: %q, want only 0 1 2 (output %q)", got, res.out)
	}
	if f["cwd"] != "/" {
		t.Errorf("cwd in the container %q, want /", f["cwd"])
	}
}

// TestSymlinkMountTargetStaysInRootfs: a mount whose target runs through a symlink to a
// host path lands inside the rootfs; nothing is made on the host.
func TestSymlinkMountTargetStaysInRootfs(t *testing.T) {
	r := newRuntime(t)
	hostDir := t.TempDir()
	rootfs := writableRootfs(t)
	if err := os.Symlink(hostDir, filepath.Join(rootfs, "evil")); err != nil {
		t.Fatal(err)
	}
	// And a file bind target through a symlink to a host file.
	hostFile := filepath.Join(hostDir, "victim")
	if err := os.WriteFile(hostFile, []byte("host\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(hostFile, filepath.Join(rootfs, "evilfile")); err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(t.TempDir(), "src")
	os.WriteFile(src, []byte("bound\n"), 0o644)
	res := run(t, r, bundle(t, rootfs, func(s *specs.Spec) {
		s.Mounts = append(s.Mounts,
			specs.Mount{Destination: "/evil/sub", Type: "tmpfs", Source: "tmpfs"},
			specs.Mount{Destination: "/evilfile", Type: "bind", Source: src, Options: []string{"bind", "ro"}})
	}, "sh", "-c", "cat /evilfile"))
	if res.status.ExitStatus() != 0 {
		t.Fatalf("status %v: %q", res.status, res.out)
	}
	if _, err := os.Stat(filepath.Join(hostDir, "sub")); err == nil {
		t.Error("a mount target through a symlink made a directory on the host")
	}
	if _, err := os.Stat(filepath.Join(rootfs, hostDir, "sub")); err != nil {
		t.Errorf("the target was not made inside the rootfs: %v", err)
	}
	if b, _ := os.ReadFile(hostFile); string(b) != "host\n" {
		t.Errorf("host file now %q", b)
	}
}

// TestHostileRootfs: symlinks where the runtime mounts or masks make Create fail with an
// error naming the field, leaving nothing behind.
func TestHostileRootfs(t *testing.T) {
	cases := []struct {
		name  string
		setup func(rootfs string) error
		edit  func(*specs.Spec)
		want  string
	}{
		{"proc is a symlink", func(rootfs string) error {
			os.Remove(filepath.Join(rootfs, "proc"))
			return os.Symlink("/etc", filepath.Join(rootfs, "proc"))
		}, nil, "mounts[0] (/proc)"},
		{"sys is a symlink", func(rootfs string) error {
			os.Remove(filepath.Join(rootfs, "sys"))
			return os.Symlink("/", filepath.Join(rootfs, "sys"))
		}, nil, "(/sys)"},
		{"/dev/null is a symlink", func(rootfs string) error {
			os.MkdirAll(filepath.Join(rootfs, "dev"), 0o755)
			return os.Symlink("/etc/passwd", filepath.Join(rootfs, "dev/null"))
		}, func(s *specs.Spec) { s.Mounts = dropMount(s.Mounts, "/dev") }, "/dev/null"},
		{"masked path is a symlink", func(rootfs string) error {
			return os.Symlink("/bin/busybox", filepath.Join(rootfs, "masked"))
		}, func(s *specs.Spec) { s.Linux.MaskedPaths = append(s.Linux.MaskedPaths, "/masked") }, "linux.maskedPaths"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := newRuntime(t)
			rootfs := writableRootfs(t)
			if err := tc.setup(rootfs); err != nil {
				t.Fatal(err)
			}
			createFails(t, r, bundle(t, rootfs, tc.edit, "true"), tc.want)
		})
	}
}

func dropMount(ms []specs.Mount, dest string) []specs.Mount {
	var out []specs.Mount
	for _, m := range ms {
		if !strings.HasPrefix(m.Destination, dest) {
			out = append(out, m)
		}
	}
	return out
}

// TestSysctlWriteStaysOnProcfs (the CVE-2025-52881 class): a sysctl is written to the
// container's procfs and nowhere else. With a volume over /proc/sys/kernel (an image symlink
// at its destination can no longer lead it there: TestSymlinkTargetIntoProc; a spec can), a
// symlink in the volume would send the sysctl's write to any file the container's root
// reaches, /proc/sysrq-trigger included. Here it names a file of the rootfs, which must stay
// as it is.
func TestSysctlWriteStaysOnProcfs(t *testing.T) {
	for _, mode := range []string{"c", "go"} {
		t.Run(mode, func(t *testing.T) {
			t.Setenv("GLASSBOX_INIT", mode)
			r := newRuntime(t)
			rootfs := writableRootfs(t)
			marker := filepath.Join(rootfs, "marker")
			if err := os.WriteFile(marker, []byte("orig"), 0o644); err != nil {
				t.Fatal(err)
			}
			volume := t.TempDir()
			if err := os.Symlink("/marker", filepath.Join(volume, "shmmax")); err != nil {
				t.Fatal(err)
			}
			createFails(t, r, bundle(t, rootfs, func(s *specs.Spec) {
				s.Mounts = append(s.Mounts, specs.Mount{Destination: "/proc/sys/kernel", Type: "bind", Source: volume, Options: []string{"rbind"}})
				s.Linux.Sysctl = map[string]string{"kernel.shmmax": "4096"}
			}, "true"), "linux.sysctl: write /proc/sys/kernel/shmmax")
			if b, _ := os.ReadFile(marker); string(b) != "orig" {
				t.Errorf("the sysctl's write went through a symlink to %s: now %q", marker, b)
			}
		})
	}
}

// TestConsoleNotAFile (the CVE-2025-52565 class): the pty goes over /dev/console only when
// that is a file or a character device, on the node the init checked (by descriptor, not
// by a path looked up again). A FIFO there is left alone: opening it for writing, as the init
// did, blocks with no reader and hung Create.
func TestConsoleNotAFile(t *testing.T) {
	for _, mode := range []string{"c", "go"} {
		t.Run(mode, func(t *testing.T) {
			t.Setenv("GLASSBOX_INIT", mode)
			r := newRuntime(t)
			id := "console-fifo-" + mode
			type created struct {
				c   *runtime.Container
				err error
			}
			done := make(chan created, 1)
			b := bundle(t, "", func(s *specs.Spec) {
				s.Process.Terminal = true
				s.Linux.Devices = append(s.Linux.Devices, specs.LinuxDevice{Path: "/dev/console", Type: "p"})
			}, "sh", "-c", "tty; [ -p /dev/console ] && echo console-is-fifo")
			go func() {
				c, err := r.Create(context.Background(), id, runtime.CreateOptions{Bundle: b})
				done <- created{c, err}
			}()
			var c *runtime.Container
			select {
			case res := <-done:
				if res.err != nil {
					t.Fatal(res.err)
				}
				c = res.c
			case <-time.After(20 * time.Second):
				t.Fatal("create hung on a FIFO at /dev/console")
			}
			t.Cleanup(func() { c.Process.Kill(); c.Process.Wait(); r.Delete(id, true) })
			defer c.Console.Close()
			if err := r.Start(id); err != nil {
				t.Fatal(err)
			}
			out := make(chan string, 1)
			go func() {
				b, _ := io.ReadAll(c.Console)
				out <- string(b)
			}()
			c.Process.Wait()
			select {
			case got := <-out:
				if !strings.Contains(got, "/dev/pts/0") || !strings.Contains(got, "console-is-fifo") {
					t.Fatalf("console output %q", got)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("console not closed")
			}
		})
	}
}

// TestDeviceModeAndOwner: a spec device gets exactly its mode (not the umask's) and owner,
// set on the node mknod made, in both inits.
func TestDeviceModeAndOwner(t *testing.T) {
	for _, mode := range []string{"c", "go"} {
		t.Run(mode, func(t *testing.T) {
			t.Setenv("GLASSBOX_INIT", mode)
			r := newRuntime(t)
			perm := os.FileMode(0o640)
			uid, gid := uint32(1000), uint32(1001)
			res := run(t, r, bundle(t, "", func(s *specs.Spec) {
				s.Linux.Devices = append(s.Linux.Devices, specs.LinuxDevice{Path: "/dev/mynull", Type: "c", Major: 1, Minor: 3,
					FileMode: &perm, UID: &uid, GID: &gid})
			}, "stat", "-c", "%a %u %g %t:%T", "/dev/mynull"))
			if got := strings.TrimSpace(res.out); got != "640 1000 1001 1:3" {
				t.Errorf("/dev/mynull: %q, want 640 1000 1001 1:3", got)
			}
		})
	}
}

// TestSymlinkTargetIntoProc (the CVE-2025-52881 class): an image symlink at a mount's
// destination that leads into /proc is refused. Followed inside the rootfs it would put the
// volume over /proc/1 (the init itself), so /proc/self/fd and /proc/thread-self/fd, which
// the init then goes through for the exec fifo and the masked paths, would be the volume's
// symlinks to files of the attacker's choice. A destination the spec itself puts under /proc
// (lxcfs's files) is still mounted.
func TestSymlinkTargetIntoProc(t *testing.T) {
	for _, mode := range []string{"c", "go"} {
		t.Run(mode, func(t *testing.T) {
			t.Setenv("GLASSBOX_INIT", mode)
			r := newRuntime(t)
			rootfs := writableRootfs(t)
			if err := os.Symlink("/proc/1", filepath.Join(rootfs, "data")); err != nil {
				t.Fatal(err)
			}
			createFails(t, r, bundle(t, rootfs, func(s *specs.Spec) {
				s.Mounts = append(s.Mounts, specs.Mount{Destination: "/data", Type: "bind", Source: t.TempDir(), Options: []string{"rbind"}})
			}, "true"), "open /data in the rootfs: a symlink leads it into /proc")
			src := filepath.Join(t.TempDir(), "uptime")
			os.WriteFile(src, []byte("42.00 0.00\n"), 0o644)
			res := run(t, r, bundle(t, "", func(s *specs.Spec) {
				s.Mounts = append(s.Mounts, specs.Mount{Destination: "/proc/uptime", Type: "bind", Source: src, Options: []string{"bind", "ro"}})
			}, "cat", "/proc/uptime"))
			if strings.TrimSpace(res.out) != "42.00 0.00" {
				t.Errorf("an explicit bind over /proc/uptime: %q", res.out)
			}
		})
	}
}
