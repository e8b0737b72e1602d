package network

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"

	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/glassbox/glassbox/internal/atomicfile"
)

// A container's network namespace is made here, before its init exists, and bind-mounted on a
// file (as `ip netns add` and podman do); the container's config.json names that file in its
// network namespace's path, and the runtime setns(2)s the init into it (runtime-spec,
// config-linux.md, "Namespaces": a path means join, not create). So the bridge is wired before
// the container's program runs, with no hook into the runtime or the shim, and whichever OCI
// runtime runs the init; and the namespace, its eth0 and its address outlive a stopped init,
// so a restart finds them and teardown has a handle whether or not a process is left.

// createNetns makes a new network namespace and bind-mounts it on path.
func createNetns(path string) error {
	if err := makeMountTarget(path); err != nil {
		return err
	}
	errc := make(chan error, 1)
	go func() {
		// unshare(2) moves only the calling thread: keep this goroutine on it, and if the thread
		// cannot go back to the host's namespace, let it die with the goroutine (Go ends a
		// thread whose goroutine exits locked) rather than run other goroutines in the wrong one.
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("open the host's network namespace: %w", err)
			return
		}
		defer orig.Close()
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("unshare CLONE_NEWNET: %w", err)
			return
		}
		src := fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid())
		merr := unix.Mount(src, path, "", unix.MS_BIND, "")
		if merr != nil {
			merr = fmt.Errorf("mount --bind %s %s: %w", src, path, merr)
		}
		if err := netns.Set(orig); err != nil {
			errc <- errors.Join(merr, fmt.Errorf("setns back to the host's network namespace: %w", err))
			return
		}
		runtime.UnlockOSThread()
		errc <- merr
	}()
	if err := <-errc; err != nil {
		removeNetns(path)
		return err
	}
	return nil
}

// bindNetns makes path another name of the namespace at src (/proc/PID/ns/net or another
// container's file): container:NAME holds its own reference, so it does not depend on the
// other container's PID staying the same between create and start.
func bindNetns(src, path string) error {
	if err := makeMountTarget(path); err != nil {
		return err
	}
	var st unix.Statfs_t
	if err := unix.Statfs(src, &st); err != nil {
		os.Remove(path)
		return fmt.Errorf("statfs %s: %w", src, err)
	}
	if st.Type != unix.NSFS_MAGIC && st.Type != unix.PROC_SUPER_MAGIC {
		os.Remove(path)
		return fmt.Errorf("%s is not a namespace file", src)
	}
	if err := unix.Mount(src, path, "", unix.MS_BIND, ""); err != nil {
		os.Remove(path)
		return fmt.Errorf("mount --bind %s %s: %w", src, path, err)
	}
	return nil
}

func makeMountTarget(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("create %s: %w", filepath.Dir(path), err)
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_RDONLY|unix.O_CLOEXEC, 0o444)
	if err != nil {
		return fmt.Errorf("create network namespace file: %w", err)
	}
	return f.Close()
}

// removeNetns unmounts and removes a namespace file; the kernel frees the namespace (and the
// veth end inside it) once no process and no other mount holds it. Missing is fine.
func removeNetns(path string) error {
	if err := unix.Unmount(path, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("umount %s: %w", path, err)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove %s: %w", path, err)
	}
	return nil
}

// ReadConfig reads a root's network configuration file; a missing file is the zero Config
// (the default bridge).
func ReadConfig(path string) (Config, error) {
	var c Config
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return c, nil
	}
	if err != nil {
		return c, fmt.Errorf("read network configuration: %w", err)
	}
	if err := json.Unmarshal(b, &c); err != nil {
		return c, fmt.Errorf("parse network configuration %s: %w", path, err)
	}
	return c, nil
}

// WriteConfig validates c and writes it to path atomically.
func WriteConfig(path string, c Config) error {
	if err := c.withDefaults().validate(); err != nil {
		return err
	}
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	// Durable: the user was told the configuration is saved, and every bridge run parses it
	// (an empty file after a power loss would fail them all).
	if err := atomicfile.WriteFile(path, b, 0o600, atomicfile.Durable); err != nil {
		return fmt.Errorf("write network configuration: %w", err)
	}
	return nil
}
