package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/opencontainers/runtime-spec/specs-go/features"
	"github.com/spf13/cobra"

	"github.com/glassbox/glassbox/engine/runtime"
	"github.com/glassbox/glassbox/engine/runtime/seccomp"
	"github.com/glassbox/glassbox/inspect"
)

func newOCISpecCmd(o *ociGlobals) *cobra.Command {
	var bundle string
	var rootless bool
	cmd := &cobra.Command{
		Use:   "spec [--rootless] [--bundle DIR]",
		Short: "Write a default config.json (runc spec's) into the bundle directory",
		Long: `Write a starter config.json for a bundle whose root filesystem is ./rootfs: "sh" on a
terminal as root, with pid, network, ipc, uts, mount and cgroup namespaces, runc's default
mounts, masked and read-only paths, and three capabilities. --rootless makes one an
unprivileged user can run: a user namespace mapping that user to root, no network namespace,
/sys bound from the host, no cgroup limits.`,
		Example: `  mkdir -p bundle/rootfs && tar -C bundle/rootfs -xf busybox.tar
  cd bundle && glassbox oci spec && glassbox oci run demo`,
		Args: ociArgs(0, 0),
		RunE: o.run(func(cmd *cobra.Command, args []string) error {
			spec := runtime.Example()
			if rootless {
				toRootless(spec, os.Geteuid(), os.Getegid())
			}
			path := filepath.Join(bundle, "config.json")
			if _, err := os.Stat(path); err == nil {
				return errors.New("File config.json exists. Remove it first")
			}
			if bundle != "" {
				if fi, err := os.Stat(bundle); err != nil || !fi.IsDir() {
					return fmt.Errorf("bundle %s: not a directory", bundle)
				}
			}
			data, err := json.MarshalIndent(spec, "", "\t")
			if err != nil {
				return err
			}
			return os.WriteFile(path, append(data, '\n'), 0o666)
		}),
	}
	cmd.Flags().StringVarP(&bundle, "bundle", "b", "", "path to the root of the bundle directory")
	cmd.Flags().BoolVar(&rootless, "rootless", false, "generate a configuration for a rootless container")
	return cmd
}

// toRootless adapts spec for an unprivileged user, as runc's specconv.ToRootless does.
func toRootless(spec *specs.Spec, uid, gid int) {
	var namespaces []specs.LinuxNamespace
	for _, ns := range spec.Linux.Namespaces {
		// An unprivileged user cannot configure a new network namespace's links; the user
		// namespace is added once, below.
		if ns.Type != specs.NetworkNamespace && ns.Type != specs.UserNamespace {
			namespaces = append(namespaces, ns)
		}
	}
	spec.Linux.Namespaces = append(namespaces, specs.LinuxNamespace{Type: specs.UserNamespace})
	spec.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: uint32(uid), Size: 1}}
	spec.Linux.GIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: uint32(gid), Size: 1}}
	var mounts []specs.Mount
	for _, m := range spec.Mounts {
		// sysfs cannot be mounted without owning the network namespace: bind the host's.
		if filepath.Clean(m.Destination) == "/sys" {
			mounts = append(mounts, specs.Mount{Destination: "/sys", Type: "none", Source: "/sys",
				Options: []string{"rbind", "nosuid", "noexec", "nodev", "ro"}})
			continue
		}
		// Only the one mapped uid and gid exist inside.
		var opts []string
		for _, opt := range m.Options {
			if !strings.HasPrefix(opt, "gid=") && !strings.HasPrefix(opt, "uid=") {
				opts = append(opts, opt)
			}
		}
		m.Options = opts
		mounts = append(mounts, m)
	}
	spec.Mounts = mounts
	spec.Linux.Resources = nil
}

func newOCIFeaturesCmd(o *ociGlobals) *cobra.Command {
	return &cobra.Command{
		Use:   "features",
		Short: "Print what this runtime supports (runtime-spec features.md JSON)",
		Args:  ociArgs(0, 0),
		RunE: o.run(func(cmd *cobra.Command, args []string) error {
			data, err := json.MarshalIndent(ociFeatures(), "", "    ")
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), string(data))
			return nil
		}),
	}
}

func ociFeatures() *features.Features {
	yes, no := true, false
	f := &features.Features{
		OCIVersionMin: "1.0.0",
		OCIVersionMax: specs.Version,
		// prestart is deprecated in the spec but still run (between createRuntime's moment
		// and createContainer's), as runc does.
		Hooks: []string{"prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"},
		// The options the runtime turns into mount(2) flags or propagation; anything else is
		// passed to the filesystem as data, so it is not a "known" option.
		MountOptions: runtime.MountOptions(),
		Linux: &features.Linux{
			Namespaces:   []string{"cgroup", "ipc", "mount", "network", "pid", "time", "user", "uts"},
			Capabilities: knownCapabilities(),
			Cgroup:       &features.Cgroup{V1: &yes, V2: &yes, Systemd: &no, SystemdUser: &no, Rdma: &no},
			Seccomp:      seccomp.Features(),
			// Support is built in (features.md: "unrelated to whether the host supports"
			// it); a spec asking for a module the host lacks is refused at create.
			Apparmor: &features.Apparmor{Enabled: &yes},
			Selinux:  &features.Selinux{Enabled: &yes},
			// Idmapped bind mounts (mounts[].uidMappings, gidMappings; idmap, ridmap).
			MountExtensions: &features.MountExtensions{IDMap: &features.IDMap{Enabled: &yes}},
		},
		Annotations: map[string]string{
			"org.glassbox.version":                 version,
			"io.github.seccomp.libseccomp.version": seccomp.Version(),
		},
	}
	return f
}

// knownCapabilities are the capabilities this kernel has (up to /proc/sys/kernel/cap_last_cap).
func knownCapabilities() []string {
	names := inspect.KnownCapNames()
	last := len(names) - 1
	if data, err := os.ReadFile("/proc/sys/kernel/cap_last_cap"); err == nil {
		if n, err := strconv.Atoi(strings.TrimSpace(string(data))); err == nil && n < last {
			last = n
		}
	}
	return names[:last+1]
}
