package tui

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/textinput"
	tea "charm.land/bubbletea/v2"

	"github.com/glassbox/glassbox/engine"
	"github.com/glassbox/glassbox/theme"
)

// runDialog is `glassbox run -dit` as a form: an image (picked from the store, filtered as
// typed), a name, a command and the common limits. The container gets a tty and open stdin so
// its console can be attached from the Shell tab.
type runDialog struct {
	th     *theme.Theme
	b      Backend
	ctx    context.Context
	images []string
	fields []textinput.Model
	focus  int
	pick   int
	err    string

	submit, next, prev, cancel, choose key.Binding
}

const (
	runImage = iota
	runName
	runCmd
	runMemory
	runCPUs
	runPids
	runEnv
	runVolumes
	runNetwork
	runPorts
	runRemove
)

func newRunDialog(th *theme.Theme, b Backend, ctx context.Context, images []engine.ImageSummary, selected engine.ImageSummary) *runDialog {
	d := &runDialog{th: th, b: b, ctx: ctx,
		submit: key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "run")),
		next:   key.NewBinding(key.WithKeys("tab", "down"), key.WithHelp("tab", "next field")),
		prev:   key.NewBinding(key.WithKeys("shift+tab", "up"), key.WithHelp("shift+tab", "previous field")),
		choose: key.NewBinding(key.WithKeys("ctrl+n"), key.WithHelp("ctrl+n", "next matching image")),
		cancel: key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "cancel")),
	}
	for _, im := range images {
		if len(im.RepoTags) > 0 {
			d.images = append(d.images, im.RepoTags...)
		} else {
			d.images = append(d.images, im.ID)
		}
	}
	labels := []struct{ prompt, placeholder string }{
		{"image    ", "name:tag or id"},
		{"name     ", "(generated)"},
		{"command  ", "(the image's CMD)"},
		{"memory   ", "e.g. 64m (unlimited)"},
		{"cpus     ", "e.g. 0.5 (unlimited)"},
		{"pids     ", "e.g. 100 (unlimited)"},
		{"env      ", "KEY=value … (-e)"},
		{"volumes  ", "/src:/dst[:ro] … (-v)"},
		{"network  ", "none, host or bridge (the default)"},
		{"ports    ", "8080:80 … (-p, with bridge)"},
		{"--rm     ", "y removes it when it exits"},
	}
	for _, l := range labels {
		ti := newInput(l.prompt, l.placeholder)
		ti.SetWidth(40)
		d.fields = append(d.fields, ti)
	}
	if len(selected.RepoTags) > 0 {
		d.fields[runImage].SetValue(selected.RepoTags[0])
	} else if len(d.images) > 0 {
		d.fields[runImage].SetValue(d.images[0])
	}
	return d
}

func (d *runDialog) init() tea.Cmd { return d.fields[0].Focus() }

func (d *runDialog) keys() []key.Binding {
	return []key.Binding{d.submit, d.next, d.prev, d.choose, d.cancel}
}

// matches are the store's images containing the image field's text.
func (d *runDialog) matches() []string {
	q := strings.ToLower(d.fields[runImage].Value())
	var out []string
	for _, im := range d.images {
		if strings.Contains(strings.ToLower(im), q) {
			out = append(out, im)
		}
	}
	return out
}

func (d *runDialog) update(msg tea.Msg) (dialog, tea.Cmd) {
	k, ok := msg.(tea.KeyPressMsg)
	if !ok {
		return d, nil
	}
	switch {
	case key.Matches(k, d.cancel):
		return nil, nil
	case key.Matches(k, d.submit):
		opts, err := d.options()
		if err != nil {
			d.err = err.Error()
			return d, nil
		}
		return nil, runContainer(d.ctx, d.b, opts)
	case key.Matches(k, d.next), key.Matches(k, d.prev):
		d.fields[d.focus].Blur()
		step := 1
		if key.Matches(k, d.prev) {
			step = len(d.fields) - 1
		}
		d.focus = (d.focus + step) % len(d.fields)
		return d, d.fields[d.focus].Focus()
	case key.Matches(k, d.choose) && d.focus == runImage:
		if ms := d.matches(); len(ms) > 0 {
			d.pick = (d.pick + 1) % len(ms)
			d.fields[runImage].SetValue(ms[d.pick])
			d.fields[runImage].CursorEnd()
		}
		return d, nil
	}
	var cmd tea.Cmd
	d.fields[d.focus], cmd = d.fields[d.focus].Update(k)
	d.err = ""
	return d, cmd
}

// options turns the form into CreateOptions, refusing values docker would refuse.
func (d *runDialog) options() (engine.CreateOptions, error) {
	v := func(i int) string { return strings.TrimSpace(d.fields[i].Value()) }
	opts := engine.CreateOptions{Image: v(runImage), Name: v(runName), Tty: true, OpenStdin: true}
	if opts.Image == "" {
		return opts, fmt.Errorf("image: choose one")
	}
	if s := v(runCmd); s != "" {
		cmd, err := splitCommand(s)
		if err != nil {
			return opts, fmt.Errorf("command: %w", err)
		}
		opts.Cmd = cmd
	}
	if s := v(runMemory); s != "" {
		n, err := parseBytes(s)
		if err != nil {
			return opts, fmt.Errorf("memory %q: %w", s, err)
		}
		opts.MemoryBytes = n
	}
	if s := v(runCPUs); s != "" {
		f, err := strconv.ParseFloat(s, 64)
		if err != nil || f <= 0 {
			return opts, fmt.Errorf("cpus %q: want a positive number", s)
		}
		opts.NanoCPUs = int64(f * 1e9)
	}
	if s := v(runPids); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n <= 0 {
			return opts, fmt.Errorf("pids %q: want a positive integer", s)
		}
		opts.PidsLimit = n
	}
	if s := v(runEnv); s != "" {
		env, err := splitCommand(s)
		if err != nil {
			return opts, fmt.Errorf("env: %w", err)
		}
		for _, e := range env {
			if k, _, _ := strings.Cut(e, "="); k == "" {
				return opts, fmt.Errorf("env %q: want KEY=value", e)
			}
		}
		opts.Env = env
	}
	opts.Volumes = strings.Fields(v(runVolumes))
	for _, vol := range opts.Volumes {
		parts := strings.Split(vol, ":")
		if len(parts) < 2 || len(parts) > 3 || !strings.HasPrefix(parts[1], "/") || len(parts) == 3 && parts[2] != "ro" && parts[2] != "rw" {
			return opts, fmt.Errorf("volume %q: want SRC:/DST[:ro]", vol)
		}
	}
	switch n := v(runNetwork); n {
	case "", "none", "host", "bridge":
		opts.Network = n
	default:
		return opts, fmt.Errorf("network %q: want none, host or bridge", n)
	}
	opts.Publish = strings.Fields(v(runPorts))
	switch r := strings.ToLower(v(runRemove)); r {
	case "", "n", "no":
	case "y", "yes":
		opts.AutoRemove = true
	default:
		return opts, fmt.Errorf("--rm %q: want y or n", r)
	}
	return opts, nil
}

// runContainer creates and starts a container, as `run -dit` does (StartNext: the shim's own
// start overlaps the create's mounts, as for the CLI's run).
func runContainer(ctx context.Context, b Backend, opts engine.CreateOptions) tea.Cmd {
	opts.StartNext = true
	return func() tea.Msg {
		c, err := b.Create(ctx, opts)
		if err != nil {
			return actionMsg{what: "run " + opts.Image, err: err}
		}
		if err := b.Start(ctx, c.ID); err != nil {
			return actionMsg{what: "start " + c.Name, err: err}
		}
		return actionMsg{what: "started " + c.Name + " (" + shortID(c.ID) + ")", selectID: c.ID}
	}
}

// parseBytes reads docker's memory sizes: 512, 64k, 64m, 1g (binary units, as docker).
func parseBytes(s string) (int64, error) {
	s = strings.ToLower(strings.TrimSuffix(strings.ToLower(s), "b"))
	mult := int64(1)
	if n := len(s); n > 0 {
		switch s[n-1] {
		case 'k':
			mult, s = 1<<10, s[:n-1]
		case 'm':
			mult, s = 1<<20, s[:n-1]
		case 'g':
			mult, s = 1<<30, s[:n-1]
		}
	}
	n, err := strconv.ParseFloat(s, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("want a size like 64m")
	}
	return int64(n * float64(mult)), nil
}

func (d *runDialog) view(width int) string {
	t := d.th
	lines := []string{t.Paint(&t.DialogTitle, "Run a container") + t.Paint(&t.Muted, "  (detached, with a tty)")}
	for i, f := range d.fields {
		lines = append(lines, f.View())
		if i == runImage && d.focus == runImage {
			ms := d.matches()
			shown := min(len(ms), 4)
			for _, m := range ms[:shown] {
				lines = append(lines, t.Paint(&t.Muted, "           "+m))
			}
			if len(ms) == 0 {
				lines = append(lines, t.Paint(&t.Warn, "           no image matches: p pulls one"))
			}
		}
	}
	if d.err != "" {
		lines = append(lines, t.Paint(&t.StatusError, d.err))
	}
	return t.Dialog.Width(width).Render(strings.Join(lines, "\n"))
}

// splitCommand splits a command line as a POSIX shell would for words: blanks separate,
// single quotes keep everything, double quotes keep all but \" and \\, a backslash escapes.
func splitCommand(s string) ([]string, error) {
	var words []string
	var cur strings.Builder
	inWord := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\'':
			j := strings.IndexByte(s[i+1:], '\'')
			if j < 0 {
				return nil, fmt.Errorf("unterminated single quote")
			}
			cur.WriteString(s[i+1 : i+1+j])
			i += j + 1
			inWord = true
		case c == '"':
			i++
			for ; i < len(s) && s[i] != '"'; i++ {
				if s[i] == '\\' && i+1 < len(s) && (s[i+1] == '"' || s[i+1] == '\\') {
					i++
				}
				cur.WriteByte(s[i])
			}
			if i >= len(s) {
				return nil, fmt.Errorf("unterminated double quote")
			}
			inWord = true
		case c == '\\' && i+1 < len(s):
			i++
			cur.WriteByte(s[i])
			inWord = true
		case c == ' ' || c == '\t':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteByte(c)
			inWord = true
		}
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}
