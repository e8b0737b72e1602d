package shim

import (
	"fmt"
	"net"
	"os"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// hub fans the container's output out to every attacher. A slow attacher misses output rather
// than stalling the container's (the log keeps everything), but it stays subscribed: the exit
// frame is what a run or wait attached to a --rm container gets back, the record being gone.
// An attacher that has gone away is removed by its connection's reader (stream).
type hub struct {
	mu   sync.Mutex
	subs map[*subscriber]bool
	done bool
	exit []byte
}

// subscriberFrames is a subscriber's buffer; its last slot is kept for the exit frame, so
// finish never blocks on an attacher that reads nothing (a stopped CLI).
const subscriberFrames = 1024

type subscriber struct {
	ch chan frame
}

type frame struct {
	typ     byte
	payload []byte
}

func newHub() *hub { return &hub{subs: map[*subscriber]bool{}} }

func (h *hub) add() (*subscriber, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	s := &subscriber{ch: make(chan frame, subscriberFrames)}
	if h.done {
		s.ch <- frame{FrameExit, h.exit}
		close(s.ch)
		return s, false
	}
	h.subs[s] = true
	return s, true
}

func (h *hub) remove(s *subscriber) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.subs[s] {
		delete(h.subs, s)
		close(s.ch)
	}
}

func (h *hub) broadcast(typ byte, data []byte) {
	h.mu.Lock()
	defer h.mu.Unlock()
	payload := append([]byte(nil), data...)
	for s := range h.subs {
		// Senders hold hub.mu, so the length only shrinks meanwhile. A full buffer drops this
		// chunk for this attacher (a gap in what it shows, as on a terminal that lost output);
		// it gets the next ones once it has caught up.
		if len(s.ch) < cap(s.ch)-1 {
			s.ch <- frame{typ, payload}
		}
	}
}

func (h *hub) finish(exit []byte) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.done, h.exit = true, exit
	for s := range h.subs {
		s.ch <- frame{FrameExit, exit} // its slot was kept free (broadcast)
		close(s.ch)
	}
	h.subs = map[*subscriber]bool{}
}

// input is where attachers' keystrokes go: the pty master, or the stdin pipe.
type input struct {
	mu      sync.Mutex
	console *os.File
	pipe    *os.File
}

func (in *input) write(p []byte) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.console != nil {
		in.console.Write(p)
	} else if in.pipe != nil {
		in.pipe.Write(p)
	}
}

func (in *input) eof() {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.pipe != nil {
		in.pipe.Close()
		in.pipe = nil
	}
}

func (in *input) resize(rows, cols uint16) {
	if in.console != nil {
		unix.IoctlSetWinsize(int(in.console.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: rows, Col: cols})
	}
}

type attachServer struct {
	l     *net.UnixListener
	path  string
	conns sync.WaitGroup
}

func listenAttach(path string, h *hub, in *input) (*attachServer, error) {
	os.Remove(path)
	addr, release, err := socketPath(path)
	if err != nil {
		return nil, err
	}
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: addr, Net: "unix"})
	release()
	if err != nil {
		return nil, fmt.Errorf("listen on the attach socket %s: %w", path, err)
	}
	l.SetUnlinkOnClose(false)
	os.Chmod(path, 0o600)
	s := &attachServer{l: l, path: path}
	go func() {
		for {
			c, err := l.AcceptUnix()
			if err != nil {
				return
			}
			s.conns.Add(1)
			go s.serve(c, h, in)
		}
	}()
	return s, nil
}

func (s *attachServer) serve(c *net.UnixConn, h *hub, in *input) {
	defer s.conns.Done()
	typ, hello, err := ReadFrame(c)
	if err != nil || typ != FrameHello {
		c.Close()
		return
	}
	sub, live := h.add()
	stream(c, h, in, sub, live, string(hello) == "stdin")
}

// stream copies the hub's frames to one attacher (subscribed as sub) and, with stdin, its
// input frames to the container, until either side ends; then it closes c.
func stream(c net.Conn, h *hub, in *input, sub *subscriber, live, stdin bool) {
	defer c.Close()
	if live && stdin {
		go func() {
			for {
				typ, p, err := ReadFrame(c)
				if err != nil {
					h.remove(sub)
					return
				}
				switch typ {
				case FrameStdin:
					in.write(p)
				case FrameStdinEOF:
					in.eof()
				case FrameResize:
					if rows, cols, err := parseResize(p); err == nil {
						in.resize(rows, cols)
					}
				}
			}
		}()
	} else if live {
		go func() { // a reader-only client: notice its hang-up
			for {
				if _, _, err := ReadFrame(c); err != nil {
					h.remove(sub)
					return
				}
			}
		}()
	}
	for f := range sub.ch {
		if err := WriteFrame(c, f.typ, f.payload); err != nil {
			h.remove(sub)
			for range sub.ch {
			}
			return
		}
	}
}

// drain waits (up to limit: a stuck attacher must not hold the shim) until every attacher
// has been sent what the hub gave it, the exit frame last.
func (s *attachServer) drain(limit time.Duration) {
	done := make(chan struct{})
	go func() {
		s.conns.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(limit):
	}
}

func (s *attachServer) close() {
	s.l.Close()
	os.Remove(s.path)
}
