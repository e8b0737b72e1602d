// Package records writes the files the binary's C constructor reads before Go starts (the
// runtime's run cache and whole templates, the engine's run templates): records of a
// native-endian u32 type, a u32 payload length and the payload, which nsenter's runc.c and
// grun.c parse.
package records

import (
	"bytes"
	"encoding/binary"

	"golang.org/x/sys/unix"
)

// Writer collects records.
type Writer struct {
	b bytes.Buffer
}

// Put appends one record of type typ whose payload is parts, one after the other.
func (w *Writer) Put(typ uint32, parts ...[]byte) {
	n := 0
	for _, p := range parts {
		n += len(p)
	}
	binary.Write(&w.b, binary.NativeEndian, [2]uint32{typ, uint32(n)})
	for _, p := range parts {
		w.b.Write(p)
	}
}

// Bytes is the records so far.
func (w *Writer) Bytes() []byte { return w.b.Bytes() }

// U32 is v as a payload.
func U32(v uint32) []byte { return binary.NativeEndian.AppendUint32(nil, v) }

// Strings is each of v, through mark (nil: as it is), ending in NUL.
func Strings(mark func(string) string, v ...string) []byte {
	var out []byte
	for _, s := range v {
		if mark != nil {
			s = mark(s)
		}
		out = append(append(out, s...), 0)
	}
	return out
}

// Stat is a file's identity as C compares it with stat(2): u32 what, u32 mode, then device,
// inode, size, mtime and ctime (nanoseconds) as i64.
func Stat(what uint32, st *unix.Stat_t) []byte {
	p := append(U32(what), U32(st.Mode)...)
	for _, v := range []int64{int64(st.Dev), int64(st.Ino), st.Size, st.Mtim.Nano(), st.Ctim.Nano()} {
		p = binary.NativeEndian.AppendUint64(p, uint64(v))
	}
	return p
}
