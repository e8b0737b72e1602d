package inspect

import (
	"path/filepath"
	"testing"
)

// A brief reading holds CPU time and memory usage, the same as a full reading's, and nothing
// else; SetBrief(false) brings the rest back. On the recorded v1, v2 and hybrid trees.
func TestPollerBrief(t *testing.T) {
	for _, tree := range []string{"legacy", "unified", "hybrid"} {
		t.Run(tree, func(t *testing.T) {
			paths, err := Host{Root: filepath.Join("testdata", tree)}.CgroupPaths(recordedPid)
			if err != nil {
				t.Fatal(err)
			}
			p := NewPoller(0)
			defer p.Close()
			if err := p.Add("c", paths); err != nil {
				t.Fatal(err)
			}
			full := p.Poll()[0]
			p.SetBrief("c", true)
			brief := p.Poll()[0]
			if brief.Has != (Has{CPU: full.Has.CPU, Memory: full.Has.Memory, Throttling: brief.Has.Throttling}) {
				t.Errorf("brief reading has %+v (full %+v)", brief.Has, full.Has)
			}
			if !brief.Has.CPU || !brief.Has.Memory || brief.CPU.UsageNanos != full.CPU.UsageNanos || brief.Memory.UsageBytes != full.Memory.UsageBytes {
				t.Errorf("brief CPU %d memory %d, full %d %d", brief.CPU.UsageNanos, brief.Memory.UsageBytes, full.CPU.UsageNanos, full.Memory.UsageBytes)
			}
			if brief.Pids.Current != 0 || brief.Memory.LimitBytes != 0 {
				t.Errorf("brief reading read more: pids %d limit %d", brief.Pids.Current, brief.Memory.LimitBytes)
			}
			p.SetBrief("c", false)
			if again := p.Poll()[0]; again.Has != full.Has {
				t.Errorf("full again has %+v, want %+v", again.Has, full.Has)
			}
		})
	}
}
