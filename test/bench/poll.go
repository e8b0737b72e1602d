package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/glassbox/glassbox/engine/cgroups"
	"github.com/glassbox/glassbox/inspect"
)

// The poll case: N real cgroups (GLASSBOX_POLL_N, default 100), each with a sleeping process,
// made with engine/cgroups under names unique to this run; inspect's poller reads them all at
// 1 Hz for GLASSBOX_POLL_SECONDS (default 30) while this process does nothing else, and the
// CPU it used (getrusage(RUSAGE_SELF): user+system, Go runtime included) is reported as a
// percent of one core. The same window is then measured for a naive poller (open, read, close
// and strings.Fields every file each tick), the way most dashboards read cgroupfs.
func init() {
	register(Case{
		Name:    "poll",
		About:   "stats poller: CPU cost of polling N real cgroups at 1 Hz (GLASSBOX_POLL_N, default 100), vs a naive reader",
		Rounds:  1,
		Prepare: func(env *Env) ([]Contender, error) { return nil, nil },
		Extra:   pollExtra,
	})
}

func envInt(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil && n > 0 {
		return n
	}
	return def
}

func pollExtra(env *Env) error {
	n, secs := envInt("GLASSBOX_POLL_N", 100), envInt("GLASSBOX_POLL_SECONDS", 30)
	paths, err := makePollCgroups(env, n)
	if err != nil {
		return err
	}
	window := time.Duration(secs) * time.Second

	p := inspect.NewPoller(time.Second)
	for i, ps := range paths {
		if err := p.Add(strconv.Itoa(i), ps); err != nil {
			return err
		}
	}
	var tick []time.Duration
	gbCPU := measureCPU(window, func() {
		t0 := time.Now()
		batch := p.Poll()
		tick = append(tick, time.Since(t0))
		if len(batch) != n {
			fmt.Fprintf(os.Stderr, "poll: %d of %d cgroups read\n", len(batch), n)
		}
	})
	files := 0
	if r, err := inspect.OpenStats("x", paths[0]); err == nil {
		files = len(r.Files())
		r.Close()
	}
	p.Close()

	var naiveFiles []string
	if r, err := inspect.OpenStats("x", paths[0]); err == nil {
		for _, ps := range paths {
			rr, _ := inspect.OpenStats("x", ps)
			naiveFiles = append(naiveFiles, rr.Files()...)
			rr.Close()
		}
		r.Close()
	}
	var naiveTick []time.Duration
	naiveCPU := measureCPU(window, func() {
		t0 := time.Now()
		naiveRead(naiveFiles)
		naiveTick = append(naiveTick, time.Since(t0))
	})
	fmt.Printf("  %d cgroups (%d files each), 1 Hz, %s window, CPU from getrusage(RUSAGE_SELF)\n", n, files, window)
	fmt.Printf("  %-22s %7.3f %% of one core   median tick %s\n", "glassbox poller", gbCPU, median(tick))
	fmt.Printf("  %-22s %7.3f %% of one core   median tick %s\n", "naive read+parse", naiveCPU, median(naiveTick))
	if naiveCPU > 0 {
		fmt.Printf("  ratio glassbox/naive: %.2f\n", gbCPU/naiveCPU)
	}
	return nil
}

// measureCPU calls f once a second for window and returns the process's CPU use over it as a
// percent of one core.
func measureCPU(window time.Duration, f func()) float64 {
	ctx, cancel := context.WithTimeout(context.Background(), window)
	defer cancel()
	var before, after unix.Rusage
	unix.Getrusage(unix.RUSAGE_SELF, &before)
	start := time.Now()
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		f()
		select {
		case <-ctx.Done():
			unix.Getrusage(unix.RUSAGE_SELF, &after)
			used := time.Duration(after.Utime.Nano()+after.Stime.Nano()-before.Utime.Nano()-before.Stime.Nano()) * time.Nanosecond
			return float64(used) / float64(time.Since(start)) * 100
		case <-t.C:
		}
	}
}

func naiveRead(files []string) {
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(data), "\n") {
			if fs := strings.Fields(line); len(fs) > 0 {
				strconv.ParseUint(fs[len(fs)-1], 10, 64)
			}
		}
	}
}

// makePollCgroups makes n cgroups named inspect-poll-PID-I, each holding a sleep, and
// registers their removal.
func makePollCgroups(env *Env, n int) ([]map[string]string, error) {
	var out []map[string]string
	for i := 0; i < n; i++ {
		cg, err := cgroups.New(cgroups.Config{Path: fmt.Sprintf("inspect-poll-%d-%d", os.Getpid(), i),
			Resources: &specs.LinuxResources{}})
		if err != nil {
			return nil, err
		}
		if err := cg.Create(); err != nil {
			return nil, err
		}
		cmd := exec.Command("sleep", "3600")
		if err := cmd.Start(); err != nil {
			cg.Destroy()
			return nil, err
		}
		env.Cleanup(func() {
			cg.Kill()
			cmd.Process.Kill()
			cmd.Wait()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			cg.WaitEmpty(ctx)
			cancel()
			if err := cg.Destroy(); err != nil {
				fmt.Fprintln(os.Stderr, "poll cleanup:", err)
			}
		})
		if err := cg.Join(cmd.Process.Pid); err != nil {
			return nil, err
		}
		out = append(out, cg.Paths())
	}
	env.Logf("made %d cgroups", n)
	return out, nil
}
