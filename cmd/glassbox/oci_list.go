package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"

	"github.com/glassbox/glassbox/engine/runtime"
	"github.com/glassbox/glassbox/engine/runtime/nsenter"
)

// ociListEntry is one container in `list --format json`, runc's fields.
type ociListEntry struct {
	Version     string            `json:"ociVersion"`
	ID          string            `json:"id"`
	Pid         int               `json:"pid"`
	Status      string            `json:"status"`
	Bundle      string            `json:"bundle"`
	Rootfs      string            `json:"rootfs"`
	Created     time.Time         `json:"created"`
	Annotations map[string]string `json:"annotations,omitempty"`
	Owner       string            `json:"owner"`
}

func newOCIListCmd(o *ociGlobals) *cobra.Command {
	var format string
	var quiet bool
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List the containers under --root",
		Args:    ociArgs(0, 0),
		RunE: o.run(func(cmd *cobra.Command, args []string) error {
			if format != "table" && format != "json" {
				return fmt.Errorf("invalid format option %q", format)
			}
			r, err := o.open()
			if err != nil {
				return err
			}
			states, err := r.List()
			if err != nil {
				return err
			}
			entries := make([]ociListEntry, 0, len(states))
			for _, st := range states {
				entries = append(entries, listEntry(r, o.root, st))
			}
			w := cmd.OutOrStdout()
			switch {
			case quiet:
				for _, e := range entries {
					fmt.Fprintln(w, e.ID)
				}
			case format == "json":
				return json.NewEncoder(w).Encode(entries)
			default:
				tw := tabwriter.NewWriter(w, 12, 1, 3, ' ', 0)
				fmt.Fprint(tw, "ID\tPID\tSTATUS\tBUNDLE\tCREATED\tOWNER\n")
				for _, e := range entries {
					fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\n", e.ID, e.Pid, e.Status, e.Bundle,
						e.Created.Format(time.RFC3339Nano), e.Owner)
				}
				return tw.Flush()
			}
			return nil
		}),
	}
	cmd.Flags().StringVarP(&format, "format", "f", "table", "select one of: table or json")
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "display only container IDs")
	return cmd
}

// listEntry adds what runc's list shows beyond the spec's state: the rootfs from the
// bundle, the creation time the runtime recorded, and the owner of the state directory.
func listEntry(r *runtime.Runtime, root string, st specs.State) ociListEntry {
	e := ociListEntry{Version: st.Version, ID: st.ID, Pid: st.Pid, Status: string(st.Status),
		Bundle: st.Bundle, Annotations: st.Annotations}
	if spec, err := loadBundleSpec(st.Bundle); err == nil && spec.Root != nil {
		e.Rootfs = spec.Root.Path
		if !filepath.IsAbs(e.Rootfs) {
			e.Rootfs = filepath.Join(st.Bundle, e.Rootfs)
		}
	}
	if c, err := r.Record(st.ID); err == nil {
		e.Created = c.Created
	}
	var fi unix.Stat_t
	if err := unix.Stat(filepath.Join(root, st.ID), &fi); err == nil {
		e.Owner = "#" + strconv.Itoa(int(fi.Uid))
		if u, err := user.LookupId(strconv.Itoa(int(fi.Uid))); err == nil {
			e.Owner = u.Username
		}
	}
	return e
}

func newOCIPsCmd(o *ociGlobals) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "ps [--format table|json] CONTAINER [ps options]",
		Short: "List the processes in a container (ps(1) output, or their PIDs as JSON)",
		Long: `List the processes running in a container: ps(1) run with the given options (default -ef),
filtered to the container's processes (those in its cgroups), or with --format json the host
PIDs as a JSON array.`,
		Args: ociArgs(1, -1),
		RunE: o.run(func(cmd *cobra.Command, args []string) error {
			if format != "table" && format != "json" {
				return fmt.Errorf("invalid format option %q", format)
			}
			r, err := o.open()
			if err != nil {
				return err
			}
			st, err := r.State(args[0])
			if err != nil {
				return runtimeError(args[0], err)
			}
			if st.Pid <= 0 || st.Status == specs.StateStopped {
				return errors.New("container not running")
			}
			pids, err := containerPids(st.Pid)
			if err != nil {
				return err
			}
			if format == "json" {
				return json.NewEncoder(cmd.OutOrStdout()).Encode(pids)
			}
			psArgs := args[1:]
			if len(psArgs) == 0 {
				psArgs = []string{"-ef"}
			}
			out, err := exec.Command("ps", psArgs...).Output()
			if err != nil {
				return fmt.Errorf("ps %s: %w", strings.Join(psArgs, " "), err)
			}
			return filterPs(cmd.OutOrStdout(), out, pids)
		}),
	}
	cmd.Flags().SetInterspersed(false) // everything after CONTAINER is ps's
	cmd.Flags().StringVarP(&format, "format", "f", "table", "select one of: table or json")
	return cmd
}

// containerPids lists the processes in the cgroup of the container's init and below it, read
// from the cgroup2 hierarchy where the init has one (every process has, even on a hybrid
// machine), else from its first v1 hierarchy.
func containerPids(initPid int) ([]int, error) {
	t, err := nsenter.OpenTarget(initPid, nsenter.TargetOptions{Types: []string{"pid"}, Cgroups: true})
	if err != nil {
		return nil, err
	}
	t.Close()
	if len(t.CgroupProcs) == 0 {
		// The init shares this process's cgroups: nothing tells its processes apart.
		return nil, fmt.Errorf("pid %d shares glassbox's own cgroups: cannot tell the container's processes apart", initPid)
	}
	dir := filepath.Dir(t.CgroupProcs[0])
	for _, procs := range t.CgroupProcs {
		var sfs unix.Statfs_t
		if unix.Statfs(filepath.Dir(procs), &sfs) == nil && sfs.Type == unix.CGROUP2_SUPER_MAGIC {
			dir = filepath.Dir(procs)
			break
		}
	}
	var pids []int
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) && p != dir {
				return nil
			}
			return err
		}
		if !d.IsDir() {
			return nil
		}
		data, err := os.ReadFile(filepath.Join(p, "cgroup.procs"))
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) && p != dir {
				return nil
			}
			return err
		}
		for _, f := range strings.Fields(string(data)) {
			if n, err := strconv.Atoi(f); err == nil {
				pids = append(pids, n)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list processes of %s: %w", dir, err)
	}
	slices.Sort(pids)
	return pids, nil
}

// filterPs prints ps's header and the lines whose PID column holds one of pids.
func filterPs(w io.Writer, out []byte, pids []int) error {
	sc := bufio.NewScanner(bytes.NewReader(out))
	if !sc.Scan() {
		return errors.New("ps printed nothing")
	}
	header := sc.Text()
	col := slices.Index(strings.Fields(header), "PID")
	if col < 0 {
		return errors.New("couldn't find PID field in ps output")
	}
	fmt.Fprintln(w, header)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if col >= len(fields) {
			continue
		}
		if pid, err := strconv.Atoi(fields[col]); err == nil && slices.Contains(pids, pid) {
			fmt.Fprintln(w, sc.Text())
		}
	}
	return sc.Err()
}
