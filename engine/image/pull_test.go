package image

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/glassbox/glassbox/test/fixture"
)

func TestPullUnpacksAndRepullDoesNoWork(t *testing.T) {
	fixture.NeedRoot(t)
	reg := fixture.StartRegistry(t)
	img := fixture.MustBusybox(t,
		fixture.WithLayer("add hello", fixture.File("etc/hello", "hi\n"), fixture.Dir("opt/"), fixture.Exec("opt/run.sh", "#!/bin/sh\n")),
		fixture.WithLayer("delete hello", fixture.Whiteout("etc/hello"), fixture.Opaque("opt")),
	)
	ref := reg.MustPush(t, "t/busybox:1", img)
	s, err := Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	var phases []string
	rec, err := s.Pull(context.Background(), ref, PullOptions{Progress: func(p Progress) {
		if p.Layer != "" && p.Phase != PhaseDownloading {
			phases = append(phases, p.Phase)
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	want, _ := img.ConfigName()
	if rec.ID != want.String() || len(rec.Layers) != 3 {
		t.Fatalf("record %+v, want id %s", rec, want)
	}
	lowers, err := s.LowerDirs(ref)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(lowers[2], "bin/busybox")); err != nil {
		t.Errorf("base layer lacks bin/busybox: %v", err)
	}
	var st os.FileInfo
	if st, err = os.Lstat(filepath.Join(lowers[0], "etc/hello")); err != nil || st.Mode()&os.ModeCharDevice == 0 {
		t.Errorf("whiteout: %v %v", st, err)
	}
	t.Logf("phases %v", phases)
	phases = nil
	if _, err := s.Pull(context.Background(), ref, PullOptions{Progress: func(p Progress) {
		if p.Layer != "" {
			phases = append(phases, p.Phase)
		}
	}}); err != nil {
		t.Fatal(err)
	}
	for _, p := range phases {
		if p != PhaseWaiting && p != PhaseExists {
			t.Errorf("re-pull phases %v: want only waiting/exists", phases)
			break
		}
	}
}
