// Package tui is glassbox's workbench: a Bubble Tea application over the engine. The root
// Model routes messages to one component per pane (the container/image list on the left, the
// tabs on the right, dialogs on top); each component has its own key map, which feeds the
// footer and the help view. Views are pure: every read of the engine happens in a tea.Cmd.
package tui

import (
	"context"
	"strconv"
	"syscall"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/glassbox/glassbox/engine"
	"github.com/glassbox/glassbox/theme"
)

// Options configure the workbench.
type Options struct {
	// Theme is "dark" (the default) or "light"; NoColor (NO_COLOR set) overrides it.
	Theme   string
	NoColor bool
	// Refresh is how often the container list is re-read (default 30s): the engine's events
	// and the stats poller (a cgroup that vanished) bring changes sooner; the tick is the safety
	// net for what neither saw.
	Refresh time.Duration
	// Inspect reads namespaces, processes, mounts and security from /proc; nil hides nothing
	// but leaves those tabs saying so.
	Inspect Inspector
	// Stats polls containers' cgroups for the graphs (inspect.NewPoller); nil leaves them empty.
	Stats StatsPoller
	// StatsInterval is how often running containers are sampled (default 1s).
	StatsInterval time.Duration
	// Now is the clock uptimes count to (default time.Now); tests fix it.
	Now func() time.Time
	// Starter builds an image from the host's busybox when the store has none; nil hides the offer.
	Starter func(ctx context.Context) (string, error)
}

// Model is the workbench's root model.
type Model struct {
	ctx  context.Context
	b    Backend
	opts Options
	th   *theme.Theme
	keys globalKeys

	width, height int
	now           time.Time

	host    engine.HostInfo
	hostErr error
	list    listModel

	containerTabs, imageTabs []pane
	// hostView shows the machine's namespaces (H) instead of the list, with read-only tabs.
	hostView  bool
	hostList  hostList
	hostTabs  []pane
	tab       int
	focusPane bool
	shown     string // selection key (and state) the active pane was given

	shell  *shellPane
	dialog dialog
	help   bool

	status    string
	statusErr bool
	// polled are the containers given to the stats poller (false: asked, not added yet);
	// histories and statsErrs their statistics, by container ID.
	polled    map[string]bool
	histories map[string]*history
	statsErrs map[string]error
	// brief are the polled containers read for CPU and memory only; fullStats the one read
	// fully (the selection).
	brief     map[string]bool
	fullStats string
	// hostWatch is the host view's selection whose cgroups are polled (hostcgroups.go).
	hostWatch string
	// pendingSelect is a row key to move the cursor to when the next list arrives.
	pendingSelect string

	// pacer slows the renderer while idle (PaceFrames); nil leaves it at its fixed rate.
	pacer *framePacer
	// drawn is the last View, valid while clean: a message that changes nothing (the pacer's
	// rest check) gets it back without drawing the screen again.
	drawn tea.View
	clean bool
}

// dialog is a modal on top of the panes (pull, run, confirm). Update returns nil to close.
type dialog interface {
	update(msg tea.Msg) (dialog, tea.Cmd)
	view(width int) string
	keys() []key.Binding
}

// New makes the workbench over b.
func New(ctx context.Context, b Backend, opts Options) *Model {
	if opts.Refresh <= 0 {
		opts.Refresh = 30 * time.Second
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.StatsInterval <= 0 {
		opts.StatsInterval = time.Second
	}
	th := theme.Select(opts.Theme, opts.NoColor)
	m := &Model{ctx: ctx, b: b, opts: opts, th: th, keys: newGlobalKeys(), list: newListModel(th),
		polled: map[string]bool{}, histories: map[string]*history{}, statsErrs: map[string]error{}, brief: map[string]bool{}}
	m.keys.Starter.SetEnabled(false)
	m.makePanes()
	return m
}

func (m *Model) makePanes() {
	th, b, ctx := m.th, m.b, m.ctx
	overview := &overviewPane{th: th, b: b, ctx: ctx}
	layers := &layersPane{th: th, b: b, ctx: ctx, kk: newLayersKeys()}
	config := &configPane{th: th, b: b, ctx: ctx}
	m.shell = newShellPane(th, b, ctx)
	cgroups := &cgroupsPane{th: th, histories: m.histories, errs: m.statsErrs, enabled: m.opts.Stats != nil,
		kk: key.NewBinding(key.WithKeys("f"), key.WithHelp("f", "figures/their cgroup files"))}
	in := newInspectPanes(th, ctx, m.opts.Inspect)
	namespaces, processes, mounts, network, security := in[0], in[1], in[2], in[3], in[4]
	// The first nine have number keys: the ones a visit starts with come first.
	m.containerTabs = []pane{overview, cgroups, layers, namespaces, processes, newLogsPane(th, b, ctx),
		&tracePane{th: th, b: b, ctx: ctx}, m.shell, config, mounts, network, security}
	m.imageTabs = []pane{overview, layers, config}
	m.hostList = newHostList(th)
	// The host view's Cgroups tab shares the container tab's samples (by selection id).
	hostCgroups := *cgroups
	m.hostTabs = append(newHostTabs(th, ctx, m.opts.Inspect), &hostCgroups)
}

// tabs are the tabs for what the list shows.
func (m *Model) tabs() []pane {
	if m.hostView {
		return m.hostTabs
	}
	if m.list.kind == kindImages {
		return m.imageTabs
	}
	return m.containerTabs
}

func (m *Model) activePane() pane {
	t := m.tabs()
	return t[min(m.tab, len(t)-1)]
}

func (m *Model) selection() selection {
	if m.hostView {
		return m.hostList.selection()
	}
	s := selection{kind: m.list.kind}
	if c, ok := m.list.selectedContainer(); ok {
		s.container = c
	}
	if im, ok := m.list.selectedImage(); ok {
		s.image = im
	}
	return s
}

type (
	hostMsg struct {
		info engine.HostInfo
		err  error
	}
	containersMsg struct {
		list []engine.Container
		err  error
		tick bool // from the refresh tick, which it re-arms
	}
	imagesMsg struct {
		list []engine.ImageSummary
		err  error
	}
	// actionMsg reports the end of a user's action (stop, kill, remove, run, pull).
	actionMsg struct {
		what string
		err  error
		// selectID is a container to select once the list has it (the one just run).
		selectID string
	}
)

// Init loads the first data, subscribes to the engine's events and starts the ticks.
func (m *Model) Init() tea.Cmd {
	return tea.Batch(m.loadHost(), m.loadContainers(), m.loadImages(), m.tick(), m.statsTick(), m.subscribe(), m.pacer.start())
}

// liveRefresh is how often a pane of processes (Processes, the host view) is re-read.
const liveRefresh = 5 * time.Second

// tick re-reads the container list every Refresh, in the timer's goroutine, so an idle
// workbench wakes once per tick with one message (and one redraw). Events bring changes
// sooner; the tick is the safety net for a shim that died without one, and moves uptimes.
func (m *Model) tick() tea.Cmd {
	b, ctx := m.b, m.ctx
	every := m.opts.Refresh
	if p, ok := m.activePane().(*inspectPane); (ok && p.live) || m.hostView {
		// Processes come and go: a pane that lists them is re-read more often.
		every = min(every, liveRefresh)
	}
	return tea.Tick(every, func(time.Time) tea.Msg {
		l, err := b.List(ctx, true)
		return containersMsg{list: l, err: err, tick: true}
	})
}

func (m *Model) loadHost() tea.Cmd {
	b, ctx := m.b, m.ctx
	return func() tea.Msg {
		h, err := b.Host(ctx)
		return hostMsg{h, err}
	}
}

func (m *Model) loadContainers() tea.Cmd {
	b, ctx := m.b, m.ctx
	return func() tea.Msg {
		l, err := b.List(ctx, true)
		return containersMsg{list: l, err: err}
	}
}

func (m *Model) loadImages() tea.Cmd {
	b, ctx := m.b, m.ctx
	return func() tea.Msg {
		l, err := b.Images(ctx)
		return imagesMsg{l, err}
	}
}

// Update routes a message: window and data messages to everyone who needs them, keys to the
// dialog, the help, the full-screen shell, the focused component, then the global keys.
func (m *Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	if r, ok := msg.(frameRestMsg); ok {
		return m, m.pacer.onRest(r)
	}
	before, drawn := m.drawn, m.clean
	m.clean = false
	cmd := m.route(msg)
	cmd = tea.Batch(cmd, m.syncSelection(), m.shell.resize(m.shellSize()))
	if m.pacer == nil {
		return m, cmd
	}
	// The workbench's own data (a stats tick over idle containers, a list that did not
	// change) often leaves the screen as it was: then the renderer has nothing to flush and
	// may sleep on. Bubble Tea's own messages (sizes, keys, terminal reports) always wake it:
	// they may change its state, not only the view.
	if drawn && !fromBubbleTea(msg) && sameFrame(before, m.View()) {
		return m, cmd
	}
	return m, tea.Batch(cmd, m.pacer.wake())
}

// shellSize is the shell's screen: the pane, or the window less a status line in full screen.
func (m *Model) shellSize() (int, int) {
	if m.shell.fullscreen && m.typing() {
		return m.width, max(m.height-1, 1)
	}
	return m.paneSize()
}

func (m *Model) route(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.width, m.height = msg.Width, msg.Height
		m.list.height = m.listRows()
		m.list.clampOffset()
		return nil
	case leaveMsg:
		m.focusPane = false
		return nil
	case hostMapMsg:
		m.hostList.set(msg)
		return nil
	case eventsMsg:
		return m.onEvents(msg)
	case statsTickMsg:
		return tea.Batch(m.trackContainers(), m.pollStats())
	case polledMsg:
		m.addPolled(msg)
		return nil
	case statsMsg:
		m.now = m.opts.Now()
		m.list.now = m.now
		var reload tea.Cmd
		if m.addStats(msg) {
			// A cgroup that vanished is a container that stopped: its die event may be on
			// its way, or never come (a shim killed with it).
			reload = m.loadContainers()
		}
		if msg.tick {
			return tea.Batch(reload, m.trackContainers(), m.statsTick())
		}
		return reload
	case hostMsg:
		m.host, m.hostErr = msg.info, msg.err
		return nil
	case containersMsg:
		var next tea.Cmd
		if msg.tick {
			next = m.tick()
			if p, ok := m.activePane().(*inspectPane); ok && p.live {
				next = tea.Batch(next, p.reload())
			}
			if m.hostView {
				next = tea.Batch(next, loadHostMap(m.opts.Inspect))
			}
		}
		if msg.err != nil {
			m.setStatus(msg.err.Error(), true)
			return next
		}
		if m.now.IsZero() {
			m.now = m.opts.Now()
			m.list.now = m.now
		}
		m.list.setContainers(msg.list)
		next = tea.Batch(next, m.trackContainers())
		if m.pendingSelect != "" && m.list.kind == kindContainers && m.list.selectKey(m.pendingSelect) {
			m.pendingSelect = ""
		}
		return next
	case imagesMsg:
		if msg.err != nil {
			m.setStatus(msg.err.Error(), true)
			return nil
		}
		m.list.setImages(msg.list)
		m.keys.Starter.SetEnabled(len(msg.list) == 0 && m.opts.Starter != nil)
		return nil
	case actionMsg:
		if msg.err != nil {
			m.setStatus(msg.what+": "+msg.err.Error(), true)
		} else {
			m.setStatus(msg.what, false)
		}
		if msg.selectID != "" {
			m.pendingSelect = "c:" + msg.selectID
		}
		return tea.Batch(m.loadContainers(), m.loadImages(), m.loadHost())
	case tea.KeyPressMsg:
		return m.handleKey(msg)
	case tea.PasteMsg:
		if m.typing() && m.dialog == nil {
			m.shell.paste(msg.Content)
			return nil
		}
		if m.dialog != nil {
			var cmd tea.Cmd
			m.dialog, cmd = m.dialog.update(msg)
			return cmd
		}
		return nil
	case tea.MouseClickMsg:
		return m.handleClick(msg)
	case tea.MouseWheelMsg:
		return m.handleWheel(msg)
	case tea.MouseReleaseMsg, tea.MouseMotionMsg:
		m.shellMouse(msg.(tea.MouseMsg))
		return nil
	}
	// Data messages: the dialog and every pane see them; each keeps only its own.
	var cmds []tea.Cmd
	if m.dialog != nil {
		var cmd tea.Cmd
		m.dialog, cmd = m.dialog.update(msg)
		cmds = append(cmds, cmd)
	}
	seen := map[pane]bool{}
	for _, p := range append(append(append([]pane{}, m.containerTabs...), m.imageTabs...), m.hostTabs...) {
		if !seen[p] {
			seen[p] = true
			cmds = append(cmds, p.update(msg))
		}
	}
	return tea.Batch(cmds...)
}

// typing is whether keys go to the shell: its pane has focus and a shell runs there.
func (m *Model) typing() bool {
	return m.focusPane && m.activePane() == m.shell && m.shell.running()
}

func (m *Model) setStatus(s string, isErr bool) { m.status, m.statusErr = s, isErr }

// syncSelection tells the active pane when the selection (or its state) changed.
func (m *Model) syncSelection() tea.Cmd {
	sel := m.selection()
	shown := sel.key() + "|" + sel.container.State + "|" + strconv.Itoa(m.tab) + "|" + strconv.Itoa(int(m.list.kind))
	if shown == m.shown {
		return nil
	}
	m.shown = shown
	return tea.Batch(m.activePane().activate(sel), m.watchHost(sel), m.watchFully(sel.container.ID))
}

func (m *Model) switchTab(i int) {
	t := m.tabs()
	if i < 0 || i >= len(t) || i == m.tab && m.tab < len(t) {
		return
	}
	m.activePane().deactivate()
	m.tab = i
}

func (m *Model) handleKey(k tea.KeyPressMsg) tea.Cmd {
	// A key pressed before the list caught up with a run acts on what is selected now; the
	// cursor must not jump under it afterwards.
	m.pendingSelect = ""
	if m.dialog != nil {
		var cmd tea.Cmd
		m.dialog, cmd = m.dialog.update(k)
		return cmd
	}
	if m.help {
		if key.Matches(k, m.keys.Quit) && k.String() == "ctrl+c" {
			return tea.Quit
		}
		m.help = false
		return nil
	}
	// The shell pane, when it has focus, takes every key: a terminal needs tab, q and arrows.
	if m.typing() {
		return m.shell.handleInput(k)
	}
	switch {
	case m.focusPane:
		if used, cmd := m.activePane().handleKey(k); used {
			return cmd
		}
	case m.hostView:
		if used, cmd := m.hostList.update(k); used {
			return cmd
		}
	default:
		if used, cmd := m.list.Update(k); used {
			return cmd
		}
	}
	return m.globalKey(k)
}

func (m *Model) globalKey(k tea.KeyPressMsg) tea.Cmd {
	g := m.keys
	sel := m.selection()
	switch {
	case key.Matches(k, g.Quit):
		m.activePane().deactivate()
		return tea.Quit
	case key.Matches(k, g.Help):
		m.help = true
	case key.Matches(k, g.Theme):
		m.toggleTheme()
	case key.Matches(k, g.NextTab):
		m.switchTab((m.tab + 1) % len(m.tabs()))
	case key.Matches(k, g.PrevTab):
		m.switchTab((m.tab + len(m.tabs()) - 1) % len(m.tabs()))
	case key.Matches(k, g.TabN):
		m.switchTab(int(k.String()[0] - '1'))
	case key.Matches(k, g.FocusList):
		m.focusPane = false
	case key.Matches(k, g.FocusPane):
		m.focusPane = true
	case key.Matches(k, g.Host):
		m.activePane().deactivate()
		m.hostView, m.tab, m.focusPane = !m.hostView, 0, false
		if m.hostView {
			return loadHostMap(m.opts.Inspect)
		}
	case key.Matches(k, g.Images):
		m.activePane().deactivate()
		m.hostView = false
		if m.list.kind == kindContainers {
			m.list.setKind(kindImages)
		} else {
			m.list.setKind(kindContainers)
		}
		m.tab = 0
		return m.loadImages()
	case key.Matches(k, g.Pull):
		m.dialog = newPullDialog(m.th, m.b, m.ctx)
		return m.dialog.(*pullDialog).init()
	case key.Matches(k, g.Run):
		m.dialog = newRunDialog(m.th, m.b, m.ctx, m.list.images, sel.image)
		return m.dialog.(*runDialog).init()
	case key.Matches(k, g.Starter) && m.opts.Starter != nil:
		return m.buildStarter()
	case key.Matches(k, g.Refresh):
		m.shown = ""
		return tea.Batch(m.loadContainers(), m.loadImages(), m.loadHost(), loadHostMap(m.opts.Inspect))
	case m.hostView:
		return nil // the host view is read-only: no container verbs
	case !sel.isContainer():
		return nil
	case key.Matches(k, g.Stop):
		m.dialog = newConfirmDialog(m.th, "Stop container "+sel.container.Name+"?",
			"SIGTERM to its init, SIGKILL after 10s if it has not exited (docker stop).",
			m.containerAction("stop", sel.container, func(ctx context.Context, id string) error {
				return m.b.Stop(ctx, id, 10*time.Second)
			}))
	case key.Matches(k, g.Kill):
		m.dialog = newConfirmDialog(m.th, "Kill container "+sel.container.Name+"?",
			"SIGKILL to its init: the kernel ends it at once, nothing is flushed.",
			m.containerAction("kill", sel.container, func(ctx context.Context, id string) error {
				return m.b.Kill(ctx, id, syscall.SIGKILL)
			}))
	case key.Matches(k, g.Remove):
		m.dialog = newConfirmDialog(m.th, "Remove container "+sel.container.Name+"?",
			"Its upper directory, log and record go; a running one is killed first.",
			m.containerAction("remove", sel.container, func(ctx context.Context, id string) error {
				return m.b.Remove(ctx, id, true)
			}))
	case key.Matches(k, g.Logs):
		m.switchTab(m.tabIndex("Logs"))
		m.focusPane = true
	case key.Matches(k, g.Shell):
		m.switchTab(m.tabIndex("Shell"))
		m.focusPane = true
		return m.shell.open(sel.container, false)
	case key.Matches(k, g.FullShell):
		m.switchTab(m.tabIndex("Shell"))
		m.focusPane = true
		cmd := m.shell.open(sel.container, false)
		m.shell.fullscreen = m.shell.running()
		return cmd
	}
	return nil
}

func (m *Model) tabIndex(title string) int {
	for i, p := range m.tabs() {
		if p.title() == title {
			return i
		}
	}
	return m.tab
}

// containerAction does verb to c once the user says yes: the status line says it is under
// way, and the command reports how it ended.
func (m *Model) containerAction(verb string, c engine.Container, f func(context.Context, string) error) func() tea.Cmd {
	ctx := m.ctx
	return func() tea.Cmd {
		m.setStatus(verb+" "+c.Name+"…", false)
		return func() tea.Msg {
			err := f(ctx, c.ID)
			return actionMsg{what: verb + " " + c.Name, err: err}
		}
	}
}

func (m *Model) buildStarter() tea.Cmd {
	m.setStatus("building the starter image from the host's busybox…", false)
	ctx, build := m.ctx, m.opts.Starter
	return func() tea.Msg {
		ref, err := build(ctx)
		return actionMsg{what: "built " + ref, err: err}
	}
}

func (m *Model) toggleTheme() {
	if m.th.Mono {
		return
	}
	next := theme.Light()
	if m.th.Name == "light" {
		next = theme.Dark()
	}
	*m.th = *next
}
