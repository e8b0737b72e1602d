package engine

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"os"
	"strconv"
	"strings"
	"time"
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
	attrs := map[string]string{}
	if code >= 0 {
		attrs["exitCode"] = strconv.Itoa(code)
	}
	ev.append(ev.line("exec_die", attrs))
}

func (ev *execEvents) line(action string, attrs map[string]string) []byte {
	if attrs == nil {
		attrs = map[string]string{}
	}
	attrs["execID"], attrs["name"], attrs["image"] = ev.execID, ev.name, ev.image
	data, _ := json.Marshal(Event{Time: time.Now().UTC(), Action: action, ContainerID: ev.id, Name: ev.name,
		Image: ev.image, Attributes: attrs})
	return append(data, '\n')
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
