package tui

import (
	"strings"

	tea "charm.land/bubbletea/v2"
)

// The host view's Cgroups tab reads the cgroups of the selected namespace's lowest process,
// any process on the machine, with the same poller and graphs as a container's: the root
// model adds that one cgroup to the poller while it is selected (under the selection's id,
// "ns:TYPE:INODE") and takes it away when the selection moves or the host view closes.

// isHostWatch is whether a poller id is a host view selection rather than a container.
func isHostWatch(id string) bool { return strings.HasPrefix(id, "ns:") }

// watchHost polls the cgroups of sel (a host view selection) instead of the previous one.
func (m *Model) watchHost(sel selection) tea.Cmd {
	id := ""
	if sel.kind == kindHost && sel.container.Pid > 0 {
		id = sel.container.ID
	}
	if m.opts.Stats == nil || m.opts.Inspect == nil || id == m.hostWatch {
		return nil
	}
	m.unwatchHost()
	m.hostWatch = id
	if id == "" {
		return nil
	}
	m.polled[id] = false
	delete(m.statsErrs, id)
	delete(m.histories, id)
	in, poller, pid := m.opts.Inspect, m.opts.Stats, sel.container.Pid
	return func() tea.Msg {
		out := polledMsg{added: map[string]map[string]string{}, errs: map[string]error{}}
		paths, err := in.CgroupPaths(pid)
		if err == nil {
			err = poller.Add(id, paths)
		}
		if err != nil {
			out.errs[id] = err
		} else {
			out.added[id] = figureFiles(paths)
		}
		return out
	}
}

// unwatchHost stops polling the host view's selection.
func (m *Model) unwatchHost() {
	id := m.hostWatch
	if id == "" {
		return
	}
	m.opts.Stats.Remove(id)
	delete(m.polled, id)
	delete(m.histories, id)
	delete(m.statsErrs, id)
	delete(m.brief, id)
	m.hostWatch = ""
}
