package engine

import (
	"crypto/rand"
	"encoding/hex"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// execEvents writes an exec's events to the root's events log, as docker names them:
// "exec_create: CMD", "exec_start: CMD" and "exec_die", each with the exec's ID, and
// exec_die with the exit code when it is known.
type execEvents struct {
	path                    string // ROOT/events.json
	id, name, image, execID string
	cmd                     string
}

func newExecEvents(path, id, name, image string, cmd []string) *execEvents {
	b := make([]byte, 32)
	rand.Read(b)
	return &execEvents{path: path, id: id, name: strings.TrimPrefix(name, "/"), image: image,
		execID: hex.EncodeToString(b), cmd: strings.Join(cmd, " ")}
}

// created and started go in one write: an exec costs the events log one open and one append.
func (ev *execEvents) createdAndStarted() {
	ev.append(ev.line("exec_create: "+ev.cmd, nil), ev.line("exec_start: "+ev.cmd, nil))
}

func (ev *execEvents) created() { ev.append(ev.line("exec_create: "+ev.cmd, nil)) }

// died records the end of the exec; code < 0 when it is not known.
func (ev *execEvents) died(code int) {
	var attrs map[string]string
	if code >= 0 {
		attrs = map[string]string{"exitCode": strconv.Itoa(code)}
	}
	ev.append(ev.line("exec_die", attrs))
}

// line is one event as Events reads it (an Event in JSON). Written by hand: encoding/json's
// first Marshal of an Event builds its encoders by reflection, which cost each exec a few
// hundred microseconds, more than the write.
func (ev *execEvents) line(action string, attrs map[string]string) []byte {
	b := make([]byte, 0, 256)
	b = append(b, `{"time":"`...)
	b = time.Now().UTC().AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","Action":`...)
	b = appendJSONString(b, action)
	b = append(b, `,"id":`...)
	b = appendJSONString(b, ev.id)
	b = append(b, `,"name":`...)
	b = appendJSONString(b, ev.name)
	b = append(b, `,"image":`...)
	b = appendJSONString(b, ev.image)
	b = append(b, `,"Attributes":{"execID":`...)
	b = appendJSONString(b, ev.execID)
	b = append(b, `,"name":`...)
	b = appendJSONString(b, ev.name)
	b = append(b, `,"image":`...)
	b = appendJSONString(b, ev.image)
	for _, k := range slices.Sorted(maps.Keys(attrs)) {
		b = append(b, ',')
		b = appendJSONString(b, k)
		b = append(b, ':')
		b = appendJSONString(b, attrs[k])
	}
	return append(b, "}}\n"...)
}

// appendJSONString appends s as a JSON string (RFC 8259 section 7): quotes, backslashes and
// control characters escaped; bytes that are not UTF-8 become U+FFFD, as encoding/json does.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for _, r := range s { // an invalid byte ranges as U+FFFD
		switch {
		case r == '"' || r == '\\':
			b = append(b, '\\', byte(r))
		case r < 0x20:
			b = append(b, '\\', 'u', '0', '0', hex[r>>4], hex[r&0xf])
		default:
			b = utf8.AppendRune(b, r)
		}
	}
	return append(b, '"')
}

// append adds whole lines with one O_APPEND write, which several writers (CLIs, shims, the
// TUI) can do at once without interleaving. An event that cannot be written is dropped: the
// exec itself has happened either way.
func (ev *execEvents) append(lines ...[]byte) {
	f, err := os.OpenFile(ev.path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return
	}
	var buf []byte
	for _, l := range lines {
		buf = append(buf, l...)
	}
	f.Write(buf)
	f.Close()
}
