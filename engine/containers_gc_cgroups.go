package engine

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/glassbox/glassbox/engine/cgroups"
	"github.com/glassbox/glassbox/engine/state"
)

// gcCgroups removes the empty cgroups that removed containers of this root left behind: an
// older glassbox made a container's cgroups before any runtime state named them, so a shim
// killed in between left cgroups that nothing names (the runtime now saves their paths
// first, and gc's runtime-state sweep reclaims those). It looks only in the glassbox parent of
// this process's own cgroups (where package cgroups makes a container's), only at directories
// named by the ID of a container this root created (its create event) that has no directory,
// no removal under way and no runtime state any more, and removes only empty ones: another
// root's containers, or an earlier session's, are not touched, nor is anything running.
func (e *Engine) gcCgroups(st *state.Store, rep *GCReport, note func(error)) {
	probe, err := cgroups.New(cgroups.Config{Path: "probe"})
	if err != nil {
		return
	}
	byID := map[string]map[string]string{} // id -> hierarchy key -> its leftover cgroup
	var created map[string]bool
	for key, p := range probe.Paths() {
		ents, err := os.ReadDir(filepath.Dir(p)) // the glassbox parent
		if err != nil {
			continue
		}
		for _, ent := range ents {
			id := ent.Name()
			if !ent.IsDir() || !state.ValidID(id) {
				continue
			}
			if created == nil {
				created = createdIDs(st.EventsPath())
			}
			if !created[id] || e.containerKnown(st, id) {
				continue
			}
			if byID[id] == nil {
				byID[id] = map[string]string{}
			}
			byID[id][key] = filepath.Join(filepath.Dir(p), id)
		}
	}
	for id, paths := range byID {
		if !cgroupsEmpty(paths) {
			continue // a process outlived its container's records: not gc's to kill blind
		}
		cg, err := cgroups.Load(paths)
		if err == nil {
			err = cg.Destroy()
		}
		if err != nil {
			note(fmt.Errorf("remove the empty cgroups of removed container %s: %w", id[:12], err))
			continue
		}
		rep.Removed = append(rep.Removed, "empty cgroups of removed container "+id[:12])
	}
}

// containerKnown says whether anything of this root still names container id: its
// directory, a removal under way (trash), or a runtime state (glassbox's runtime or runc's).
func (e *Engine) containerKnown(st *state.Store, id string) bool {
	for _, p := range []string{st.Dir(id), filepath.Join(st.TrashDir(), id),
		filepath.Join(e.root, "runtime", id), filepath.Join(e.root, "runc", id)} {
		if _, err := os.Lstat(p); !errors.Is(err, os.ErrNotExist) {
			return true
		}
	}
	return false
}

// createdIDs reads the IDs of the containers created in a root from its events log.
func createdIDs(eventsPath string) map[string]bool {
	ids := map[string]bool{}
	f, err := os.Open(eventsPath)
	if err != nil {
		return ids
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Bytes()
		if !strings.Contains(string(line), `"create"`) {
			continue
		}
		var ev struct{ Action, ID string }
		if json.Unmarshal(line, &ev) == nil && ev.Action == "create" && state.ValidID(ev.ID) {
			ids[ev.ID] = true
		}
	}
	return ids
}

// cgroupsEmpty says whether no process is in the cgroups dirs or below them.
func cgroupsEmpty(dirs map[string]string) bool {
	for _, dir := range dirs {
		empty := true
		filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
			if err != nil || !d.IsDir() {
				return nil
			}
			if procs, err := os.ReadFile(filepath.Join(p, "cgroup.procs")); err != nil || len(strings.TrimSpace(string(procs))) > 0 {
				empty = false
				return filepath.SkipAll
			}
			return nil
		})
		if !empty {
			return false
		}
	}
	return true
}
