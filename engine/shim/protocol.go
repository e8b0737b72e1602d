package shim

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"time"
)

// The attach socket speaks frames: one type byte, a 4-byte big-endian length, the payload.
// After connecting, a client sends a hello frame; the shim then streams output frames and,
// when the container ends, one exit frame, and closes.
const (
	FrameStdin    byte = 1 // client -> shim: bytes for the container's stdin
	FrameStdinEOF byte = 2 // client -> shim: close the container's stdin
	FrameResize   byte = 3 // client -> shim: rows, cols as two big-endian uint16
	FrameStdout   byte = 4 // shim -> client
	FrameStderr   byte = 5 // shim -> client
	FrameExit     byte = 6 // shim -> client: the exit status, JSON (ExitStatus)
	FrameHello    byte = 7 // client -> shim: first frame; payload "stdin" when the client sends input
	FrameStart    byte = 8 // engine -> shim, on the control connection only: StartMessage, JSON
)

// ControlFD is the shim's end of a socketpair with the engine that spawned it. The engine may
// spawn the shim before the container exists (Create overlaps the shim's own start with its
// mounts and spec) and says go with one FrameStart; with Attach that connection then carries
// the caller's attach stream from the container's first byte, with no socket to dial. EOF
// before the start frame means the create failed or was abandoned: the shim exits quietly.
const ControlFD = 4

// StartMessage is the engine's go to a waiting shim.
type StartMessage struct {
	Origin time.Time `json:"origin"` // the start's trace origin
	Attach bool      `json:"attach"` // the control connection is an attacher's
	Stdin  bool      `json:"stdin"`  // ... which sends input

	waiting time.Time // when the shim began to wait for this message
}

const maxFrame = 1 << 20

// ExitStatus is how the container ended, as the shim records and reports it.
type ExitStatus struct {
	Code       int       `json:"code"`
	OOMKilled  bool      `json:"oomKilled"`
	FinishedAt time.Time `json:"finishedAt"`
}

// WriteFrame writes one frame.
func WriteFrame(w io.Writer, typ byte, payload []byte) error {
	var hdr [5]byte
	hdr[0] = typ
	binary.BigEndian.PutUint32(hdr[1:], uint32(len(payload)))
	if _, err := w.Write(append(hdr[:], payload...)); err != nil {
		return err
	}
	return nil
}

// ReadFrame reads one frame.
func ReadFrame(r io.Reader) (byte, []byte, error) {
	var hdr [5]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return 0, nil, err
	}
	n := binary.BigEndian.Uint32(hdr[1:])
	if n > maxFrame {
		return 0, nil, fmt.Errorf("attach frame of %d bytes is too large", n)
	}
	buf := make([]byte, n)
	if _, err := io.ReadFull(r, buf); err != nil {
		return 0, nil, err
	}
	return hdr[0], buf, nil
}

// ResizePayload encodes a terminal size.
func ResizePayload(rows, cols uint16) []byte {
	var b [4]byte
	binary.BigEndian.PutUint16(b[:2], rows)
	binary.BigEndian.PutUint16(b[2:], cols)
	return b[:]
}

// Dial connects to a shim's attach socket.
func Dial(socket string, stdin bool) (net.Conn, error) {
	addr, release, err := socketPath(socket)
	if err != nil {
		return nil, fmt.Errorf("connect to the container's shim at %s: %w", socket, err)
	}
	c, err := net.Dial("unix", addr)
	release()
	if err != nil {
		return nil, fmt.Errorf("connect to the container's shim at %s: %w", socket, err)
	}
	hello := []byte{}
	if stdin {
		hello = []byte("stdin")
	}
	if err := WriteFrame(c, FrameHello, hello); err != nil {
		c.Close()
		return nil, fmt.Errorf("attach hello: %w", err)
	}
	return c, nil
}

var errShort = errors.New("short resize frame")

func parseResize(p []byte) (rows, cols uint16, err error) {
	if len(p) != 4 {
		return 0, 0, errShort
	}
	return binary.BigEndian.Uint16(p[:2]), binary.BigEndian.Uint16(p[2:]), nil
}

// socketPath returns a path for a unix socket at path that fits sun_path (108 bytes,
// unix(7)): a long one goes through /proc/self/fd/N of its directory, which the kernel
// resolves like any path. release closes that directory.
func socketPath(path string) (addr string, release func(), err error) {
	if len(path) < 100 {
		return path, func() {}, nil
	}
	dir, err := os.Open(filepath.Dir(path))
	if err != nil {
		return "", nil, err
	}
	return fmt.Sprintf("/proc/self/fd/%d/%s", dir.Fd(), filepath.Base(path)), func() { dir.Close() }, nil
}
