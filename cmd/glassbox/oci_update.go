package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/glassbox/glassbox/engine/cgroups"
	"github.com/glassbox/glassbox/engine/runtime"
)

// updateFlags are runc update's flags; each is a string so that "unset" and "0" differ.
type updateFlags struct {
	resources                                                                    string
	memory, memorySwap, memoryReservation                                        string
	cpuPeriod, cpuQuota, cpuShares, cpuBurst, cpuRtPeriod, cpuRtRuntime, cpuIdle string
	cpusetCpus, cpusetMems                                                       string
	blkioWeight, pidsLimit                                                       int
}

func newOCIUpdateCmd(o *ociGlobals) *cobra.Command {
	var f updateFlags
	cmd := &cobra.Command{
		Use:   "update [flags] CONTAINER",
		Short: "Change a running container's cgroup limits (memory, CPU, pids, block IO)",
		Long: `Change the resource limits of a created, running or paused container, as runc update does:
the values are written into the container's own cgroup files (v1, v2 or both on a hybrid
machine), and what is not given is left as it is.

With -r FILE (or -r - for stdin) the limits are read as the runtime spec's linux.resources
JSON, for example {"memory": {"limit": 268435456}, "cpu": {"quota": 50000, "period": 100000}},
and every other flag is ignored. Memory sizes take b, k, m, g suffixes; -1 lifts a limit.`,
		Args: ociArgs(1, 1),
		RunE: o.run(func(cmd *cobra.Command, args []string) error {
			res, err := f.linuxResources(cmd)
			if err != nil {
				return err
			}
			r, err := o.open()
			if err != nil {
				return err
			}
			return updateContainer(r, args[0], res)
		}),
	}
	f.bind(cmd.Flags())
	return cmd
}

// bind defines runc update's flags on fl.
func (f *updateFlags) bind(fl *pflag.FlagSet) {
	fl.StringVarP(&f.resources, "resources", "r", "", "path to a file holding the linux.resources JSON to apply, or - for stdin (every other flag is ignored)")
	fl.StringVar(&f.memory, "memory", "", "memory limit (bytes, or with a k, m, g suffix; -1 for none)")
	fl.StringVar(&f.memorySwap, "memory-swap", "", "memory plus swap limit (bytes or suffixed; -1 for unlimited swap)")
	fl.StringVar(&f.memoryReservation, "memory-reservation", "", "memory soft limit (bytes or suffixed)")
	fl.StringVar(&f.cpuPeriod, "cpu-period", "", "CPU CFS period in microseconds")
	fl.StringVar(&f.cpuQuota, "cpu-quota", "", "CPU CFS quota in microseconds per period (-1 for none)")
	fl.StringVar(&f.cpuShares, "cpu-share", "", "CPU shares, the relative weight (cgroup v2: converted to cpu.weight)")
	fl.StringVar(&f.cpuBurst, "cpu-burst", "", "CPU CFS burst in microseconds")
	fl.StringVar(&f.cpuRtPeriod, "cpu-rt-period", "", "CPU realtime period in microseconds")
	fl.StringVar(&f.cpuRtRuntime, "cpu-rt-runtime", "", "CPU realtime runtime in microseconds per period")
	fl.StringVar(&f.cpuIdle, "cpu-idle", "", "1 makes the cgroup SCHED_IDLE, 0 undoes it")
	fl.StringVar(&f.cpusetCpus, "cpuset-cpus", "", "CPUs the container may run on (0-3, 0,1)")
	fl.StringVar(&f.cpusetMems, "cpuset-mems", "", "memory nodes the container may use")
	fl.IntVar(&f.blkioWeight, "blkio-weight", 0, "block IO weight, 10 to 1000")
	fl.IntVar(&f.pidsLimit, "pids-limit", 0, "maximum number of processes (-1 for none)")
	// docker's spelling, for people who type it.
	fl.StringVar(&f.cpuShares, "cpu-shares", "", "same as --cpu-share")
	fl.Lookup("cpu-shares").Hidden = true
}

// linuxResources is what the flags (or -r's JSON) ask for, as runc reads them.
func (f *updateFlags) linuxResources(cmd *cobra.Command) (*specs.LinuxResources, error) {
	if f.resources != "" {
		var in io.Reader = cmd.InOrStdin()
		if f.resources != "-" {
			file, err := os.Open(f.resources)
			if err != nil {
				return nil, err
			}
			defer file.Close()
			in = file
		}
		var res specs.LinuxResources
		if err := json.NewDecoder(in).Decode(&res); err != nil {
			return nil, fmt.Errorf("parse resources %s: %w", f.resources, err)
		}
		return &res, nil
	}
	res := &specs.LinuxResources{}
	mem := &specs.LinuxMemory{}
	for _, p := range []struct {
		flag, value string
		dest        **int64
	}{{"memory", f.memory, &mem.Limit}, {"memory-swap", f.memorySwap, &mem.Swap}, {"memory-reservation", f.memoryReservation, &mem.Reservation}} {
		if p.value == "" {
			continue
		}
		v, err := ramInBytes(p.value)
		if err != nil {
			return nil, fmt.Errorf("invalid value for %s: %w", p.flag, err)
		}
		*p.dest = &v
	}
	if mem.Limit != nil || mem.Swap != nil || mem.Reservation != nil {
		res.Memory = mem
	}
	cpu := &specs.LinuxCPU{Cpus: f.cpusetCpus, Mems: f.cpusetMems}
	for _, p := range []struct {
		flag, value string
		dest        **uint64
	}{{"cpu-period", f.cpuPeriod, &cpu.Period}, {"cpu-share", f.cpuShares, &cpu.Shares}, {"cpu-burst", f.cpuBurst, &cpu.Burst}, {"cpu-rt-period", f.cpuRtPeriod, &cpu.RealtimePeriod}} {
		if p.value == "" {
			continue
		}
		v, err := strconv.ParseUint(p.value, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("invalid value for %s: %w", p.flag, err)
		}
		*p.dest = &v
	}
	for _, p := range []struct {
		flag, value string
		dest        **int64
	}{{"cpu-quota", f.cpuQuota, &cpu.Quota}, {"cpu-rt-runtime", f.cpuRtRuntime, &cpu.RealtimeRuntime}, {"cpu-idle", f.cpuIdle, &cpu.Idle}} {
		if p.value == "" {
			continue
		}
		v, err := strconv.ParseInt(p.value, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("invalid value for %s: %w", p.flag, err)
		}
		*p.dest = &v
	}
	if *cpu != (specs.LinuxCPU{}) {
		res.CPU = cpu
	}
	if f.blkioWeight != 0 {
		if f.blkioWeight < 10 || f.blkioWeight > 1000 {
			return nil, fmt.Errorf("invalid value for blkio-weight: %d (want 10 to 1000)", f.blkioWeight)
		}
		w := uint16(f.blkioWeight)
		res.BlockIO = &specs.LinuxBlockIO{Weight: &w}
	}
	if f.pidsLimit != 0 {
		v := int64(f.pidsLimit)
		res.Pids = &specs.LinuxPids{Limit: &v}
	}
	return res, nil
}

// updateContainer writes res into the cgroup of container id, refusing a stopped one (its
// cgroup is empty or gone) with runc's words.
func updateContainer(r *runtime.Runtime, id string, res *specs.LinuxResources) error {
	st, err := r.State(id)
	if err != nil {
		return runtimeError(id, err)
	}
	if st.Status == runtime.StatusStopped {
		return errors.New("container not running")
	}
	c, err := r.Record(id)
	if err != nil {
		return runtimeError(id, err)
	}
	if len(c.CgroupPaths) == 0 {
		return fmt.Errorf("container %s has no cgroup to update", id)
	}
	// runc update leaves the device policy alone (SkipDevices): a -r file from podman may carry
	// devices, and rewriting the policy of a running container is not what update is for.
	res.Devices = nil
	cg, err := cgroups.Load(c.CgroupPaths)
	if err != nil {
		return err
	}
	if err := cg.Update(res); err != nil {
		return fmt.Errorf("update container %s: %w", id, err)
	}
	return nil
}
