// Command bench runs glassbox and its peers side by side: for each case, every contender runs
// once per round, in an order that rotates each round, and the report gives each contender's
// median and glassbox's ratio to it. Run it as root on a quiet machine:
//
//	go run ./test/bench            # every case
//	go run ./test/bench start pull # some cases
//	go run ./test/bench -list
package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// Role says how a contender's times are read in the report.
type Role int

const (
	Subject Role = iota // glassbox: the ratios are its median over the others'
	Peer                // runc, crun, podman, skopeo...
	Floor               // the least the kernel needs (bare unshare, gzip|tar): a lower bound
)

func (r Role) String() string { return [...]string{"glassbox", "peer", "floor"}[r] }

// Contender is one way of doing the case's work.
type Contender struct {
	Name string
	Role Role
	// Before and After run untimed around every timed Run (e.g. remove what a pull stored).
	Before func() error
	Run    func() error
	After  func() error
	// Unavailable, when set, puts the contender in the report with this reason and no times
	// (crun on hybrid cgroups, a peer that is not installed).
	Unavailable string
}

// Case is one benchmark. Prepare builds its inputs (images, bundles, registries) and returns
// its contenders; cleanups registered on env run after the case.
type Case struct {
	Name    string
	About   string
	Rounds  int // default rounds; -rounds overrides
	Prepare func(env *Env) ([]Contender, error)
	// Extra, when set, measures what is not a duration (memory, CPU) and prints its own lines.
	Extra func(env *Env) error
}

// Env is what a case gets: the glassbox binary under test, a scratch directory, cleanups.
type Env struct {
	Glassbox string
	Tmp      string
	Verbose  bool
	cleanups []func()
}

// Cleanup registers f to run when the case ends, last registered first.
func (e *Env) Cleanup(f func()) { e.cleanups = append(e.cleanups, f) }

// Logf prints progress when -v is given.
func (e *Env) Logf(format string, args ...any) {
	if e.Verbose {
		fmt.Fprintf(os.Stderr, "  "+format+"\n", args...)
	}
}

// Command runs a program and returns its error with its combined output attached.
func Command(name string, args ...string) error {
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// cases is filled by the case files' init functions.
var cases = map[string]Case{}

func register(c Case) {
	if _, dup := cases[c.Name]; dup {
		panic("duplicate bench case " + c.Name)
	}
	cases[c.Name] = c
}

func main() {
	rounds := flag.Int("rounds", 0, "rounds per case (0: the case's default)")
	list := flag.Bool("list", false, "list the cases and exit")
	binary := flag.String("glassbox", "", "glassbox binary to measure (default: build ./cmd/glassbox)")
	verbose := flag.Bool("v", false, "print progress")
	flag.Parse()
	names := flag.Args()
	if *list {
		for _, n := range sortedNames() {
			fmt.Printf("%-12s %s\n", n, cases[n].About)
		}
		return
	}
	if len(names) == 0 {
		names = sortedNames()
	}
	for _, n := range names {
		if _, ok := cases[n]; !ok {
			fmt.Fprintf(os.Stderr, "bench: unknown case %q (try -list)\n", n)
			os.Exit(2)
		}
	}
	tmp, err := os.MkdirTemp("", "glassbox-bench-")
	if err != nil {
		fatal(err)
	}
	defer os.RemoveAll(tmp)
	gb := *binary
	if gb == "" {
		gb = filepath.Join(tmp, "glassbox")
		fmt.Fprintln(os.Stderr, "bench: building ./cmd/glassbox")
		if err := Command("go", "build", "-o", gb, "./cmd/glassbox"); err != nil {
			fatal(err)
		}
	}
	failed := false
	for _, n := range names {
		if err := runCase(cases[n], gb, tmp, *rounds, *verbose); err != nil {
			fmt.Fprintf(os.Stderr, "bench: case %s: %v\n", n, err)
			failed = true
		}
	}
	if failed {
		os.Exit(1)
	}
}

func sortedNames() []string {
	var names []string
	for n := range cases {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "bench:", err)
	os.Exit(1)
}

func runCase(c Case, glassbox, tmp string, rounds int, verbose bool) error {
	dir, err := os.MkdirTemp(tmp, c.Name+"-")
	if err != nil {
		return err
	}
	env := &Env{Glassbox: glassbox, Tmp: dir, Verbose: verbose}
	defer func() {
		for i := len(env.cleanups) - 1; i >= 0; i-- {
			env.cleanups[i]()
		}
	}()
	if rounds == 0 {
		rounds = c.Rounds
	}
	if rounds == 0 {
		rounds = 10
	}
	fmt.Printf("\n== %s: %s (%d rounds)\n", c.Name, c.About, rounds)
	contenders, err := c.Prepare(env)
	if err != nil {
		return fmt.Errorf("prepare: %w", err)
	}
	samples := make([][]time.Duration, len(contenders))
	failures := make([]error, len(contenders))
	for r := 0; r < rounds; r++ {
		for k := range contenders {
			i := (k + r) % len(contenders) // rotate so no contender always runs first
			ct := contenders[i]
			if ct.Unavailable != "" || failures[i] != nil {
				continue
			}
			d, err := timeOnce(ct)
			if err != nil {
				failures[i] = err
				continue
			}
			samples[i] = append(samples[i], d)
		}
		env.Logf("round %d done", r+1)
	}
	report(contenders, samples, failures)
	if c.Extra != nil {
		return c.Extra(env)
	}
	return nil
}

func timeOnce(ct Contender) (time.Duration, error) {
	if ct.Before != nil {
		if err := ct.Before(); err != nil {
			return 0, fmt.Errorf("before: %w", err)
		}
	}
	start := time.Now()
	err := ct.Run()
	d := time.Since(start)
	if ct.After != nil {
		if aerr := ct.After(); aerr != nil && err == nil {
			err = fmt.Errorf("after: %w", aerr)
		}
	}
	return d, err
}

func report(contenders []Contender, samples [][]time.Duration, failures []error) {
	var subject time.Duration
	for i, ct := range contenders {
		if ct.Role == Subject && len(samples[i]) > 0 {
			subject = median(samples[i])
		}
	}
	fmt.Printf("%-28s %-8s %10s %10s %10s  %s\n", "contender", "role", "median", "min", "max", "glassbox/this")
	for i, ct := range contenders {
		switch {
		case ct.Unavailable != "":
			fmt.Printf("%-28s %-8s %10s  unavailable: %s\n", ct.Name, ct.Role, "-", ct.Unavailable)
		case failures[i] != nil:
			fmt.Printf("%-28s %-8s %10s  failed: %v\n", ct.Name, ct.Role, "-", failures[i])
		default:
			s := samples[i]
			m := median(s)
			ratio := "-"
			if ct.Role != Subject && subject > 0 {
				ratio = fmt.Sprintf("%.2fx", float64(subject)/float64(m))
			}
			fmt.Printf("%-28s %-8s %10s %10s %10s  %s\n", ct.Name, ct.Role, round(m), round(slicesMin(s)), round(slicesMax(s)), ratio)
		}
	}
}

func median(s []time.Duration) time.Duration {
	c := append([]time.Duration(nil), s...)
	sort.Slice(c, func(i, j int) bool { return c[i] < c[j] })
	if len(c)%2 == 1 {
		return c[len(c)/2]
	}
	return (c[len(c)/2-1] + c[len(c)/2]) / 2
}

func slicesMin(s []time.Duration) time.Duration {
	m := s[0]
	for _, d := range s {
		m = min(m, d)
	}
	return m
}

func slicesMax(s []time.Duration) time.Duration {
	m := s[0]
	for _, d := range s {
		m = max(m, d)
	}
	return m
}

func round(d time.Duration) string {
	switch {
	case d >= time.Second:
		return d.Round(time.Millisecond).String()
	case d >= time.Millisecond:
		return d.Round(10 * time.Microsecond).String()
	default:
		return d.Round(time.Microsecond).String()
	}
}
