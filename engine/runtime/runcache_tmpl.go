package runtime

import (
	"bytes"
	"errors"
	"fmt"
	"hash/fnv"
	"os"
	"path/filepath"
	"strings"

	"github.com/glassbox/glassbox/engine/runtime/nsenter"
)

// Whole templates. The engine's containers have their bundle, rootfs, /etc files and cgroups
// under paths named by their ID, and their hostname is its first 12 digits: an entry for one
// bundle path (runcache.go) never serves the next container. A whole template is the entry
// of one such Create with every occurrence of the ID replaced by idMark and of its short form
// by shortMark, named after config.json with the same marks (TemplateName): any later
// container whose config.json is that one with its own ID put in is created from it by
// nsenter's C `run` (grun.c), which writes that config.json itself. The ID is 64 random hex
// digits, so every occurrence in a string is the ID; a form of it the marks would miss (a
// hash, another prefix) is caught by checkWhollyMarked, and the entry is not kept.
const (
	shortMark     = "\x02"
	shortIDLen    = 12
	templateWhole = 2 // rcTemplate's payload for a whole template (1: the ID in a few strings)
)

// WholeMarker returns the replacement of id and its short form by their marks (the engine's
// run template marks its files with it too).
func WholeMarker(id string) func(string) string {
	r := strings.NewReplacer(id, idMark, id[:shortIDLen], shortMark)
	return r.Replace
}

// TemplateName is the file name of the whole template for a container whose config.json is
// config: its hash with the container's ID marked (grun.c reads the name from the engine's
// entry, which Go writes).
func TemplateName(config []byte, id string) (string, bool) {
	if len(id) < shortIDLen || bytes.Contains(config, []byte(`\u0001`)) || bytes.Contains(config, []byte(`\u0002`)) {
		return "", false // a config string holding a mark byte would be changed by the expansion
	}
	h := fnv.New64a()
	h.Write([]byte(WholeMarker(id)(string(config))))
	return fmt.Sprintf("tmpl-%016x", h.Sum64()), true
}

// markedConfig is the constructor's config with the ID marked in the only records nsexec.c
// and runc_id.c expand: joined namespaces' paths and the cgroup.procs files.
func markedConfig(c nsenter.Config, mark func(string) string) nsenter.Config {
	c.Join = append([]nsenter.Namespace(nil), c.Join...)
	for i := range c.Join {
		c.Join[i].Path, c.Join[i].Of = mark(c.Join[i].Path), mark(c.Join[i].Of)
	}
	procs := make([]string, len(c.CgroupProcs))
	for i, p := range c.CgroupProcs {
		procs[i] = mark(p)
	}
	c.CgroupProcs = procs
	if c.TimeOffsets != "" {
		c.TimeOffsets = mark(c.TimeOffsets)
	}
	return c
}

// markedPlan is the plan with the ID marked in the strings that hold it, and those strings'
// places (op index, string index) for rcPlanMarks: runc_id.c expands only those, as other
// strings (a seccomp program) may hold the mark bytes as data. A string that holds both is
// refused (nil).
func markedPlan(p *plan, mark func(string) string) (*plan, []uint32) {
	out := &plan{ops: make([]planOp, len(p.ops))}
	var places []uint32
	for i, o := range p.ops {
		for k := range o.s {
			if m := mark(o.s[k]); m != o.s[k] {
				if strings.ContainsAny(o.s[k], idMark+shortMark) {
					return nil, nil
				}
				o.s[k] = m
				places = append(places, uint32(i), uint32(k))
			}
		}
		out.ops[i] = o
	}
	return out, places
}

// checkWhollyMarked refuses an entry in which any 8 consecutive digits of the ID are left:
// something derived the ID in a way the marks do not cover.
func checkWhollyMarked(entry []byte, id string) error {
	for i := 0; i+8 <= len(id); i++ {
		if bytes.Contains(entry, []byte(id[i:i+8])) {
			return fmt.Errorf("the ID's digits %s remain in the template", id[i:i+8])
		}
	}
	return nil
}

// keepTemplate writes the whole template of a Create (the caller asked: CreateOptions.Template).
func (r *Runtime) keepTemplate(k *runCacheKey, run runCacheRun) error {
	config, err := os.ReadFile(filepath.Join(k.bundle, "config.json"))
	if err != nil {
		return err
	}
	if strings.ContainsAny(k.bundle, idMark+shortMark) {
		return errors.New("a mark byte in the bundle path")
	}
	name, ok := TemplateName(config, run.id)
	if !ok {
		return errors.New("a mark byte in config.json")
	}
	return r.keepEntry(k, run, name)
}
