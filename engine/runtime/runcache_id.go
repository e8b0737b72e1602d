package runtime

import (
	"bytes"
	"strings"

	"github.com/glassbox/glassbox/engine/cgroups"
)

// An entry for any container ID. What Create did depends on the ID in a few strings only:
// the cgroup directories (named after it unless linux.cgroupsPath says otherwise), the
// session keyring, state.json and the trace. The entry holds them with idMark where the ID
// goes, and runc.c puts the ID of the run there, so that `oci run` with a fresh ID each time
// (as scripts do) is done without Go as well. The template is checked against the run: the
// plan built for idMark must be the run's plan once the ID is put back, operation for
// operation, or the entry is kept for this ID alone.
const idMark = "\x01"

// idTemplate holds what is built for idMark: the plan and the cgroup directories.
type idTemplate struct {
	plan  *plan
	leaf  map[string]string // the run's cgroup directory -> its template
	paths map[string]string // hierarchy -> template directory
}

func templateOf(run runCacheRun) *idTemplate {
	if run.plan == nil || run.icfg.Spec == nil || strings.Contains(run.id, idMark) {
		return nil
	}
	paths := run.cgroupPaths
	if run.spec.Linux.CgroupsPath == "" {
		cg, err := cgroups.New(cgroups.Config{Path: idMark})
		if err != nil {
			return nil
		}
		paths = cg.Paths()
	}
	t := &idTemplate{leaf: map[string]string{}, paths: paths}
	for key, dir := range run.cgroupPaths {
		tmpl, ok := paths[key]
		if !ok || strings.ReplaceAll(tmpl, idMark, run.id) != dir {
			return nil
		}
		t.leaf[dir] = tmpl
	}
	cfg := run.icfg
	cfg.State.ID = idMark
	cfg.Cgroups = cgroupMounts(paths)
	pl, err := buildPlan(cfg)
	if err != nil || len(pl.ops) != len(run.plan.ops) {
		return nil
	}
	back := func(s string) string { return strings.ReplaceAll(s, idMark, run.id) }
	for i, b := range pl.ops {
		a := run.plan.ops[i]
		if a.code != b.code || a.flags != b.flags || a.a != b.a || back(b.step) != a.step ||
			back(b.detail) != a.detail || back(b.fileDetail) != a.fileDetail {
			return nil
		}
		for k := range a.s {
			if back(b.s[k]) != a.s[k] {
				return nil
			}
		}
	}
	t.plan = pl
	return t
}

// path is a cgroup path of the run in the template (itself without one).
func (t *idTemplate) path(p string) string {
	if t == nil {
		return p
	}
	for dir, tmpl := range t.leaf {
		if p == dir || strings.HasPrefix(p, dir+"/") {
			return tmpl + p[len(dir):]
		}
	}
	return p
}

// markJSON turns the JSON escape of idMark back into the byte runc.c replaces.
func markJSON(b []byte) []byte {
	return bytes.ReplaceAll(b, []byte(`\u0001`), []byte(idMark))
}
