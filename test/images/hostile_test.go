package images

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/glassbox/glassbox/test/fixture"
)

// TestHostileLayers pulls every adversarial layer of fixture.HostileCases through the real
// binary: refused cases must fail with one line naming the problem, exit 125 and leave the
// store as it was; accepted cases must land inside their layer directory. In every case the
// canary directory on the host, which the layers aim at, must be untouched.
func TestHostileLayers(t *testing.T) {
	fixture.NeedRoot(t)
	reg := startRegistry(t)
	root := t.TempDir()
	canary := filepath.Join(t.TempDir(), "canary")
	if err := os.MkdirAll(canary, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(canary, "canary"), []byte("untouched"), 0o644); err != nil {
		t.Fatal(err)
	}
	canaryBefore := storeListing(t, canary)
	mustGB(t, root, "images") // the store's own directories exist before the first comparison
	for i, tc := range fixture.HostileCases() {
		t.Run(tc.Name, func(t *testing.T) {
			l, err := tc.Layer(canary)
			if err != nil {
				t.Fatal(err)
			}
			img := singleLayerImage(t, l)
			ref := reg.push(t, "hostile/"+tc.Name+":1", img)
			if tc.CorruptBlob {
				for _, d := range layerDigests(t, img) {
					reg.mu.Lock()
					reg.corrupt[d] = true
					reg.mu.Unlock()
				}
			}
			args := []string{"pull", "-q"}
			if tc.MaxLayerSize != "" {
				args = append(args, "--max-layer-size", tc.MaxLayerSize)
			}
			before := storeListing(t, root)
			r := gb(t, root, append(args, ref)...)
			if tc.Refuse != "" {
				if r.code != 125 {
					t.Fatalf("case %d: pull exit %d, want 125 (refused)\nstdout: %s\nstderr: %s", i, r.code, r.stdout, r.stderr)
				}
				msg := strings.TrimSpace(r.stderr)
				if strings.Count(msg, "\n") != 0 || !strings.HasPrefix(msg, "glassbox: pull ") || !strings.Contains(msg, tc.Refuse) {
					t.Errorf("stderr = %q, want one line starting 'glassbox: pull ' containing %q", r.stderr, tc.Refuse)
				}
				t.Logf("refused: %s", msg)
				if after := storeListing(t, root); after != before {
					t.Errorf("a refused pull changed the store:\nbefore:\n%s\nafter:\n%s", before, after)
				}
			} else {
				if r.code != 0 {
					t.Fatalf("pull exit %d, want success\nstderr: %s", r.code, r.stderr)
				}
				rep := layers(t, root, ref)
				dir := rep.Layers[len(rep.Layers)-1].Dir
				if err := tc.Check(dir, canary); err != nil {
					t.Error(err)
				}
			}
			if after := storeListing(t, canary); after != canaryBefore {
				t.Fatalf("the host canary changed:\nbefore:\n%s\nafter:\n%s", canaryBefore, after)
			}
		})
	}
	if entries, _ := os.ReadDir(filepath.Join(root, "snapshots", ".tmp")); len(entries) != 0 {
		t.Errorf("temporary layer directories left behind: %v", entries)
	}
}
