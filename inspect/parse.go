package inspect

// Allocation-free parsing of cgroup files: they are read into a reused buffer and scanned as
// bytes. `switch string(b)` compares without allocating (the compiler's rule for conversions
// used only in comparisons).

// nextLine returns the first line of b and the rest after its newline.
func nextLine(b []byte) (line, rest []byte) {
	for i, c := range b {
		if c == '\n' {
			return b[:i], b[i+1:]
		}
	}
	return b, nil
}

// cutField returns the first space-separated field of b and what follows its separators.
func cutField(b []byte) (field, rest []byte) {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for i, c := range b {
		if c == ' ' || c == '\t' {
			rest = b[i:]
			for len(rest) > 0 && (rest[0] == ' ' || rest[0] == '\t') {
				rest = rest[1:]
			}
			return b[:i], rest
		}
	}
	return b, nil
}

// parseUint parses a decimal number, ignoring surrounding blanks; "max" is Unlimited.
func parseUint(b []byte) (uint64, bool) {
	b = trimSpace(b)
	if string(b) == "max" {
		return Unlimited, true
	}
	if len(b) == 0 {
		return 0, false
	}
	var v uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + uint64(c-'0')
	}
	return v, true
}

// parseInt parses a decimal number that may be negative (cpu.cfs_quota_us is -1 unlimited).
func parseInt(b []byte) (int64, bool) {
	b = trimSpace(b)
	neg := len(b) > 0 && b[0] == '-'
	if neg {
		b = b[1:]
	}
	v, ok := parseUint(b)
	if !ok || v == Unlimited {
		return 0, false
	}
	if neg {
		return -int64(v), true
	}
	return int64(v), true
}

// parseFixed parses a PSI average such as "22.08" (always two decimals in
// kernel/sched/psi.c's output, but any number is accepted).
func parseFixed(b []byte) float64 {
	var whole, frac, scale float64 = 0, 0, 1
	inFrac := false
	for _, c := range b {
		switch {
		case c == '.':
			inFrac = true
		case c >= '0' && c <= '9':
			if inFrac {
				frac = frac*10 + float64(c-'0')
				scale *= 10
			} else {
				whole = whole*10 + float64(c-'0')
			}
		}
	}
	return whole + frac/scale
}

func trimSpace(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\n' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\n' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

// cutByte splits b at the first c.
func cutByte(b []byte, c byte) (before, after []byte, ok bool) {
	for i, x := range b {
		if x == c {
			return b[:i], b[i+1:], true
		}
	}
	return b, nil, false
}

// parseDevice parses "MAJ:MIN".
func parseDevice(b []byte) (major, minor uint32, ok bool) {
	ma, mi, ok := cutByte(b, ':')
	if !ok {
		return 0, 0, false
	}
	x, ok1 := parseUint(ma)
	y, ok2 := parseUint(mi)
	return uint32(x), uint32(y), ok1 && ok2
}
