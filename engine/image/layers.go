package image

import (
	"path"
	"sort"
	"strings"

	"github.com/glassbox/glassbox/engine/snapshot"
)

// LayerDiff is what one layer did to the layers below it. Directories a layer restates
// (every layer lists the parents of what it changes) are not counted; a new directory is
// an addition.
type LayerDiff struct {
	Added, Changed, Removed int
	// Wasted is the bytes of lower files this layer overwrote or deleted.
	Wasted int64
}

// WastedPath is a path whose bytes were stored and then overwritten or deleted.
type WastedPath struct {
	Path  string
	Bytes int64
	// Count is how many copies were overwritten or deleted.
	Count int
}

// Analysis is an image's layers compared, dive-style.
type Analysis struct {
	Layers []LayerDiff
	// TotalBytes is the bytes of regular files over all layers; WastedBytes the part of it
	// that a later layer overwrote or deleted.
	TotalBytes, WastedBytes int64
	// Wasted lists the paths behind WastedBytes, largest first.
	Wasted []WastedPath
}

// Efficiency is 1 - wasted/total, as dive scores an image (1 when nothing is stored).
func (a *Analysis) Efficiency() float64 {
	if a.TotalBytes == 0 {
		return 1
	}
	return 1 - float64(a.WastedBytes)/float64(a.TotalBytes)
}

// mergedEntry is a path in the union of the layers so far.
type mergedEntry struct {
	kind  string
	size  int64
	mode  uint32
	link  string
	layer int
}

// merger replays layers' indexes the way overlayfs stacks them.
type merger struct {
	paths  map[string]mergedEntry
	wasted map[string]*WastedPath
}

func newMerger() *merger {
	return &merger{paths: map[string]mergedEntry{}, wasted: map[string]*WastedPath{}}
}

// waste notes that a lower copy of p is gone and returns its bytes.
func (m *merger) waste(p string, e mergedEntry) int64 {
	if e.kind != snapshot.KindFile || e.size == 0 {
		return 0
	}
	w := m.wasted[p]
	if w == nil {
		w = &WastedPath{Path: p}
		m.wasted[p] = w
	}
	w.Bytes += e.size
	w.Count++
	return e.size
}

// under returns the merged paths strictly below dir, from layers below layer.
func (m *merger) under(dir string, layer int) []string {
	var out []string
	prefix := dir + "/"
	if dir == "." {
		prefix = ""
	}
	for p, e := range m.paths {
		if strings.HasPrefix(p, prefix) && p != dir && e.layer < layer {
			out = append(out, p)
		}
	}
	sort.Strings(out)
	return out
}

// change is one path a layer touched, with its mark: "+", "~" or "-".
type change struct {
	entry snapshot.Entry
	mark  string
}

// apply stacks one layer's index on the union and returns what it did.
func (m *merger) apply(layer int, idx *snapshot.Index) (LayerDiff, []change) {
	var d LayerDiff
	var changes []change
	remove := func(p string) {
		e := m.paths[p]
		d.Wasted += m.waste(p, e)
		d.Removed++
		changes = append(changes, change{snapshot.Entry{Path: p, Kind: e.kind, Size: e.size, Mode: e.mode}, "-"})
		delete(m.paths, p)
	}
	for _, e := range idx.Entries {
		switch e.Kind {
		case snapshot.KindWhiteout:
			for _, p := range m.under(e.Path, layer) {
				remove(p)
			}
			if _, ok := m.paths[e.Path]; ok {
				remove(e.Path)
			}
		case snapshot.KindOpaque:
			for _, p := range m.under(e.Path, layer) {
				remove(p)
			}
		default:
			old, exists := m.paths[e.Path]
			mark := "+"
			switch {
			case !exists:
				d.Added++
			case e.Kind == snapshot.KindDir && old.kind == snapshot.KindDir:
				mark = "" // a restated parent
			default:
				d.Changed++
				mark = "~"
				d.Wasted += m.waste(e.Path, old)
				if old.kind == snapshot.KindDir {
					// A non-directory over a directory hides everything below it.
					for _, p := range m.under(e.Path, layer) {
						remove(p)
					}
				}
			}
			changes = append(changes, change{e, mark})
			m.paths[e.Path] = mergedEntry{kind: e.Kind, size: e.Size, mode: e.Mode, link: e.Link, layer: layer}
		}
	}
	return d, changes
}

// Analyze compares an image's layers: per layer what it added, changed and removed, and
// the bytes wasted on files that later layers overwrote or deleted.
func (s *Store) Analyze(rec *Record) (*Analysis, error) {
	m := newMerger()
	a := &Analysis{}
	for i, l := range rec.Layers {
		idx, err := s.snaps.ReadIndex(l.DiffID)
		if err != nil {
			return nil, err
		}
		d, _ := m.apply(i, idx)
		a.Layers = append(a.Layers, d)
		a.TotalBytes += idx.Size
		a.WastedBytes += d.Wasted
	}
	for _, w := range m.wasted {
		a.Wasted = append(a.Wasted, *w)
	}
	sort.Slice(a.Wasted, func(i, j int) bool {
		if a.Wasted[i].Bytes != a.Wasted[j].Bytes {
			return a.Wasted[i].Bytes > a.Wasted[j].Bytes
		}
		return a.Wasted[i].Path < a.Wasted[j].Path
	})
	return a, nil
}

// Node is one entry of a file tree.
type Node struct {
	Name     string
	Mark     string // "+", "~", "-" or ""
	Kind     string // snapshot.Kind*
	Mode     uint32
	Size     int64
	Link     string
	Children []*Node
}

// Tree returns layer's file tree (an index into rec.Layers) with marks against the layers
// below it, removed paths included; with layer -1, the merged view of the whole image.
func (s *Store) Tree(rec *Record, layer int) (*Node, error) {
	m := newMerger()
	root := &Node{Name: "/", Kind: snapshot.KindDir}
	for i, l := range rec.Layers {
		if layer >= 0 && i > layer {
			break
		}
		idx, err := s.snaps.ReadIndex(l.DiffID)
		if err != nil {
			return nil, err
		}
		_, changes := m.apply(i, idx)
		if i == layer {
			for _, c := range changes {
				e := c.entry
				insert(root, e.Path, &Node{Mark: c.mark, Kind: e.Kind, Mode: e.Mode, Size: e.Size, Link: e.Link})
			}
		}
	}
	if layer < 0 {
		paths := make([]string, 0, len(m.paths))
		for p := range m.paths {
			paths = append(paths, p)
		}
		sort.Strings(paths)
		for _, p := range paths {
			e := m.paths[p]
			insert(root, p, &Node{Kind: e.kind, Mode: e.mode, Size: e.size, Link: e.link})
		}
	}
	sortTree(root)
	return root, nil
}

// insert places n at rel under root, making the directories on the way.
func insert(root *Node, rel string, n *Node) {
	parts := strings.Split(rel, "/")
	dir := root
	for _, part := range parts[:len(parts)-1] {
		var next *Node
		for _, c := range dir.Children {
			if c.Name == part {
				next = c
				break
			}
		}
		if next == nil {
			next = &Node{Name: part, Kind: snapshot.KindDir}
			dir.Children = append(dir.Children, next)
		}
		dir = next
	}
	n.Name = path.Base(rel)
	for i, c := range dir.Children {
		if c.Name == n.Name {
			n.Children = c.Children
			dir.Children[i] = n
			return
		}
	}
	dir.Children = append(dir.Children, n)
}

// sortTree orders children by name and gives directories the size of what they hold.
func sortTree(n *Node) int64 {
	sort.Slice(n.Children, func(i, j int) bool { return n.Children[i].Name < n.Children[j].Name })
	if n.Kind != snapshot.KindDir {
		return n.Size
	}
	var total int64
	for _, c := range n.Children {
		total += sortTree(c)
	}
	n.Size = total
	return total
}
