// Package chart draws the workbench's live graphs: one-line sparklines for the container list
// and block area charts for the Cgroups pane. It is deliberately tiny: a list of 500 containers
// redraws its visible sparklines on every stats tick, so a sparkline is one pass over a ring
// buffer into a preallocated byte slice, with no styling inside (the caller styles the whole run).
package chart

import (
	"math"
	"strings"
	"unicode/utf8"
)

// Series is a fixed-capacity ring of samples, oldest first.
type Series struct {
	buf   []float64
	start int
	n     int
}

// NewSeries keeps the last capacity samples.
func NewSeries(capacity int) *Series {
	if capacity < 1 {
		capacity = 1
	}
	return &Series{buf: make([]float64, capacity)}
}

// Push appends a sample, dropping the oldest when full. NaN and negative samples count as 0.
func (s *Series) Push(v float64) {
	if math.IsNaN(v) || v < 0 {
		v = 0
	}
	if s.n < len(s.buf) {
		s.buf[(s.start+s.n)%len(s.buf)] = v
		s.n++
		return
	}
	s.buf[s.start] = v
	s.start = (s.start + 1) % len(s.buf)
}

// Len is the number of samples held.
func (s *Series) Len() int {
	if s == nil {
		return 0
	}
	return s.n
}

// At is the i-th sample, 0 the oldest.
func (s *Series) At(i int) float64 { return s.buf[(s.start+i)%len(s.buf)] }

// Last is the newest sample, or 0.
func (s *Series) Last() float64 {
	if s.Len() == 0 {
		return 0
	}
	return s.At(s.n - 1)
}

// Max is the largest of the last n samples (all when n <= 0).
func (s *Series) Max(n int) float64 {
	if s.Len() == 0 {
		return 0
	}
	if n <= 0 || n > s.n {
		n = s.n
	}
	m := 0.0
	for i := s.n - n; i < s.n; i++ {
		if v := s.At(i); v > m {
			m = v
		}
	}
	return m
}

// blocks are the eighth-height bars, lowest first.
var blocks = [8]rune{'▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'}

// eighths are the partial cells of an area chart's top row: 0 (blank) to 8 (full).
var eighths = [9]rune{' ', '▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'}

// Sparkline draws the newest width samples of s as width cells, scaled so top is a full block
// (top <= 0 scales to the samples' own maximum). Missing history is blank on the left; a zero
// sample is the lowest bar, so an idle container reads as a flat line, not as no data.
func Sparkline(s *Series, width int, top float64) string {
	if width <= 0 {
		return ""
	}
	var b []byte
	return string(AppendSparkline(b, s, width, top))
}

// AppendSparkline is Sparkline appending to dst, for callers that reuse a buffer.
func AppendSparkline(dst []byte, s *Series, width int, top float64) []byte {
	n := s.Len()
	if top <= 0 {
		top = s.Max(width)
	}
	pad := width - n
	for i := 0; i < pad; i++ {
		dst = append(dst, ' ')
	}
	first := 0
	if n > width {
		first = n - width
	}
	for i := first; i < n; i++ {
		level := 0
		if top > 0 {
			level = int(s.At(i)/top*7 + 0.5)
		}
		level = min(max(level, 0), 7)
		dst = utf8.AppendRune(dst, blocks[level])
	}
	return dst
}

// Area draws the newest width samples of s as a block chart height rows tall, top row first,
// each row exactly width cells. top <= 0 scales to the samples' own maximum.
func Area(s *Series, width, height int, top float64) []string {
	if width <= 0 || height <= 0 {
		return nil
	}
	n := s.Len()
	if top <= 0 {
		top = s.Max(width)
	}
	// fill[x] is the column's height in eighths of a cell.
	fill := make([]int, width)
	first := 0
	if n > width {
		first = n - width
	}
	for i := first; i < n; i++ {
		x := width - (n - i)
		if top > 0 {
			fill[x] = int(math.Round(s.At(i) / top * float64(height*8)))
		}
	}
	rows := make([]string, height)
	var b strings.Builder
	for r := 0; r < height; r++ {
		b.Reset()
		floor := (height - 1 - r) * 8
		for x := 0; x < width; x++ {
			e := min(max(fill[x]-floor, 0), 8)
			b.WriteRune(eighths[e])
		}
		rows[r] = b.String()
	}
	return rows
}

// Bar draws a horizontal gauge width cells wide for fraction in [0,1], with eighth-cell
// resolution: the full part and the empty part are returned separately so the caller can style
// them apart.
func Bar(fraction float64, width int) (full, empty string) {
	if width <= 0 {
		return "", ""
	}
	if math.IsNaN(fraction) || fraction < 0 {
		fraction = 0
	}
	if fraction > 1 {
		fraction = 1
	}
	total := int(math.Round(fraction * float64(width*8)))
	whole, part := total/8, total%8
	var b strings.Builder
	b.WriteString(strings.Repeat("█", whole))
	cells := whole
	if part > 0 {
		b.WriteRune(partials[part])
		cells++
	}
	return b.String(), strings.Repeat("·", width-cells)
}

// partials are left-aligned eighth-width blocks.
var partials = [8]rune{' ', '▏', '▎', '▍', '▌', '▋', '▊', '▉'}
