package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// The density case: N `sleep` containers started with -d (N from GLASSBOX_DENSITY_N, default
// 200), then their total memory, supervisors included: glassbox's shims and inits against
// podman's conmons and inits, summed as PSS (shared pages split among their users). It reuses
// the run case's setup (image, roots, registry).
func init() {
	register(Case{
		Name:   "density",
		About:  "N sleep containers with -d (GLASSBOX_DENSITY_N, default 200): total PSS of supervisors and inits, glassbox vs podman",
		Rounds: 1,
		Prepare: func(env *Env) ([]Contender, error) {
			if _, err := prepareRun(env); err != nil {
				return nil, err
			}
			return nil, nil
		},
		Extra: densityExtra,
	})
}

func densityN() int {
	if n, err := strconv.Atoi(os.Getenv("GLASSBOX_DENSITY_N")); err == nil && n > 0 {
		return n
	}
	return 200
}

func sumPss(pids []int) (int, error) {
	total := 0
	for _, pid := range pids {
		m, err := procMem(pid)
		if err != nil {
			return 0, err
		}
		total += m.pss
	}
	return total, nil
}

func densityExtra(env *Env) error {
	s, n := runShared, densityN()
	if s == nil {
		return nil
	}
	began := time.Now()
	var ids []string
	defer func() {
		if len(ids) > 0 {
			exec.Command(env.Glassbox, append([]string{"--root", s.gbRoot, "rm", "-f"}, ids...)...).Run()
		}
	}()
	for i := 0; i < n; i++ {
		out, err := exec.Command(env.Glassbox, "--root", s.gbRoot, "run", "-d", "--network", "none", s.ref, "sleep", "100000").Output()
		if err != nil {
			return fmt.Errorf("glassbox run -d #%d: %w", i, err)
		}
		ids = append(ids, strings.TrimSpace(string(out)))
	}
	gbStart := time.Since(began)
	out, err := exec.Command(env.Glassbox, append([]string{"--root", s.gbRoot, "inspect"}, ids...)...).Output()
	if err != nil {
		return err
	}
	var ds []struct {
		ShimPid int
		State   struct{ Pid int }
	}
	if err := json.Unmarshal(out, &ds); err != nil {
		return err
	}
	var shims, inits []int
	for _, d := range ds {
		shims, inits = append(shims, d.ShimPid), append(inits, d.State.Pid)
	}
	gbShims, err := sumPss(shims)
	if err != nil {
		return err
	}
	gbInits, err := sumPss(inits)
	if err != nil {
		return err
	}
	fmt.Printf("  glassbox: %d containers started in %v; PSS shims %d KiB + inits %d KiB = %d KiB (%.0f KiB per container)\n",
		n, gbStart.Round(time.Millisecond), gbShims, gbInits, gbShims+gbInits, float64(gbShims+gbInits)/float64(n))

	if _, err := exec.LookPath("podman"); err != nil {
		fmt.Println("  podman: not installed")
		return nil
	}
	began = time.Now()
	var pmIDs []string
	defer func() {
		if len(pmIDs) > 0 {
			podmanCmd(s, append([]string{"rm", "-f", "-t", "0"}, pmIDs...)...).Run()
		}
	}()
	for i := 0; i < n; i++ {
		out, err := podmanCmd(s, "run", "-d", "--network", "none", "--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024",
			s.ref, "sleep", "100000").Output()
		if err != nil {
			return fmt.Errorf("podman run -d #%d: %w", i, err)
		}
		pmIDs = append(pmIDs, strings.TrimSpace(string(out)))
	}
	pmStart := time.Since(began)
	out, err = podmanCmd(s, append([]string{"inspect", "--format", "{{.State.ConmonPid}} {{.State.Pid}}"}, pmIDs...)...).Output()
	if err != nil {
		return err
	}
	var conmons, pmInits []int
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		if len(f) != 2 {
			continue
		}
		c, _ := strconv.Atoi(f[0])
		p, _ := strconv.Atoi(f[1])
		conmons, pmInits = append(conmons, c), append(pmInits, p)
	}
	pmConmons, err := sumPss(conmons)
	if err != nil {
		return err
	}
	pmInitsPss, err := sumPss(pmInits)
	if err != nil {
		return err
	}
	fmt.Printf("  podman:   %d containers started in %v; PSS conmons %d KiB + inits %d KiB = %d KiB (%.0f KiB per container)\n",
		n, pmStart.Round(time.Millisecond), pmConmons, pmInitsPss, pmConmons+pmInitsPss, float64(pmConmons+pmInitsPss)/float64(n))
	fmt.Printf("  glassbox/podman: memory %.2fx, start time %.2fx\n",
		float64(gbShims+gbInits)/float64(pmConmons+pmInitsPss), float64(gbStart)/float64(pmStart))
	return nil
}
