package theme

import (
	"reflect"
	"testing"

	"charm.land/lipgloss/v2"
)

// Paint must give exactly what Render gives, for every style of every theme, on text with
// spaces, wide runes, escapes, tabs and line breaks.
func TestPaintIsRender(t *testing.T) {
	texts := []string{"", "running", "a b  c ", "日本語 ▁▂▃", "\x1b[31mred\x1b[m plain", "tab\there", "two\nlines", "  "}
	for _, th := range []*Theme{Dark(), Light(), Mono()} {
		v := reflect.ValueOf(th).Elem()
		for i := 0; i < v.NumField(); i++ {
			if !v.Type().Field(i).IsExported() {
				continue
			}
			st, ok := v.Field(i).Addr().Interface().(*lipgloss.Style)
			if !ok {
				continue
			}
			name := v.Type().Field(i).Name
			for _, s := range texts {
				for range 2 { // learnt, then from the cache
					if got, want := th.Paint(st, s), st.Render(s); got != want {
						t.Errorf("%s %s: Paint(%q) = %q, Render %q", th.Name, name, s, got, want)
					}
				}
			}
		}
	}
}

// A theme switch (the root model copies another Theme over its own) must not keep the old
// theme's colours.
func TestPaintFollowsThemeSwitch(t *testing.T) {
	th := Dark()
	before := th.Paint(&th.Running, "x")
	*th = *Light()
	if got, want := th.Paint(&th.Running, "x"), th.Running.Render("x"); got != want || got == before {
		t.Fatalf("after the switch Paint = %q, want %q (dark gave %q)", got, want, before)
	}
}
