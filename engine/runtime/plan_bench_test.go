package runtime

import "testing"

func BenchmarkBuildPlan(b *testing.B) {
	cfg := exampleConfig(nil)
	for i := 0; i < b.N; i++ {
		p, err := buildPlan(cfg)
		if err != nil {
			b.Fatal(err)
		}
		p.encode()
	}
}
