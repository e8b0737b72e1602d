package image

import (
	"testing"

	"github.com/glassbox/glassbox/engine/snapshot"
)

func TestMergerCountsAndWaste(t *testing.T) {
	f := func(p string, size int64) snapshot.Entry {
		return snapshot.Entry{Path: p, Kind: snapshot.KindFile, Size: size}
	}
	d := func(p string) snapshot.Entry { return snapshot.Entry{Path: p, Kind: snapshot.KindDir} }
	layers := []struct {
		entries []snapshot.Entry
		want    LayerDiff
	}{
		{[]snapshot.Entry{d("etc"), f("etc/a", 10), f("etc/b", 20), d("opt"), f("opt/x", 5)}, LayerDiff{Added: 5}},
		// Restating etc/ is not a change; rewriting a is; the whiteout removes b.
		{[]snapshot.Entry{d("etc"), f("etc/a", 11), {Path: "etc/b", Kind: snapshot.KindWhiteout}}, LayerDiff{Changed: 1, Removed: 1, Wasted: 30}},
		// An opaque opt hides x; a file over the directory etc hides what is below it.
		{[]snapshot.Entry{{Path: "opt", Kind: snapshot.KindOpaque}, f("opt/y", 1), f("etc", 3)}, LayerDiff{Added: 1, Changed: 1, Removed: 2, Wasted: 16}},
		// A whiteout of something that never existed removes nothing.
		{[]snapshot.Entry{{Path: "nope", Kind: snapshot.KindWhiteout}}, LayerDiff{}},
	}
	m := newMerger()
	for i, l := range layers {
		got, _ := m.apply(i, &snapshot.Index{Entries: l.entries})
		if got != l.want {
			t.Errorf("layer %d: %+v, want %+v", i, got, l.want)
		}
	}
	if len(m.wasted) != 3 || m.wasted["etc/b"].Bytes != 20 || m.wasted["etc/a"].Bytes != 21 || m.wasted["opt/x"].Bytes != 5 {
		t.Errorf("wasted paths %+v", m.wasted)
	}
}
