package engine

import "fmt"

// detachScanner finds docker's detach keys in a stream of input: scan returns what to pass on
// (the keys themselves are held back while they match, and passed on when the match breaks,
// as docker does) and whether the whole sequence was seen. The match carries across reads.
type detachScanner struct {
	keys    []byte
	matched int
}

func (d *detachScanner) scan(in []byte) (out []byte, detached bool) {
	out = make([]byte, 0, len(in)+len(d.keys))
	for _, b := range in {
		if len(d.keys) > 0 && b == d.keys[d.matched] {
			d.matched++
			if d.matched == len(d.keys) {
				return out, true
			}
			continue
		}
		out = append(out, d.keys[:d.matched]...)
		d.matched = 0
		out = append(out, b)
	}
	return out, false
}

// ParseDetachKeys reads docker's --detach-keys syntax: a comma-separated list of single
// characters and ctrl-<c> with c one of a-z, @, [, \, ], ^, _. Empty is ctrl-p,ctrl-q.
func ParseDetachKeys(spec string) ([]byte, error) {
	if spec == "" {
		return []byte{0x10, 0x11}, nil
	}
	var keys []byte
	for _, k := range splitComma(spec) {
		switch {
		case len(k) == 6 && k[:5] == "ctrl-":
			c := k[5]
			switch {
			case c >= 'a' && c <= 'z':
				keys = append(keys, c-'a'+1)
			case c == '@':
				keys = append(keys, 0)
			case c >= '[' && c <= '_':
				keys = append(keys, c-'['+27)
			default:
				return nil, fmt.Errorf("invalid detach keys (%s) provided", k)
			}
		case len(k) == 1:
			keys = append(keys, k[0])
		default:
			return nil, fmt.Errorf("invalid detach keys (%s) provided", k)
		}
	}
	return keys, nil
}
