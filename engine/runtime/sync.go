package runtime

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/glassbox/glassbox/engine/trace"
)

// The parent's side of the sync socket, until the init is ready: its console, the stop for
// the hooks due before pivot_root, its trace steps, its error.

// converse answers the init until it is ready (or fails): its console, the createRuntime
// hooks before pivot_root, its trace steps.
func (r *Runtime) converse(ctx context.Context, sock *os.File, spec *specs.Spec, st specs.State, opts CreateOptions, c *Container, rec *trace.Recorder) error {
	for {
		var m initMessage
		f, err := recvMessage(int(sock.Fd()), &m)
		if err != nil {
			if errors.Is(err, errEOF) {
				return errors.New("init: exited during setup")
			}
			return fmt.Errorf("init: read sync socket: %w", err)
		}
		for i := range m.Steps {
			m.Steps[i].Pid = c.Pid // the init's host PID, not 1
		}
		rec.Add(m.Steps...)
		switch m.Type {
		case msgConsole:
			if err := takeConsole(f, opts, c); err != nil {
				return err
			}
		case msgHooks:
			if err := runCreateHooks(ctx, spec, st, rec); err != nil {
				return err
			}
			if err := sendMessage(int(sock.Fd()), initMessage{Type: msgContinue}, nil); err != nil {
				return fmt.Errorf("init: write sync socket: %w", err)
			}
		case msgReady:
			return nil
		case msgError:
			// The init's message ends with its kind already: say it once.
			switch m.Kind {
			case "notfound":
				return fmt.Errorf("init: %s: %w", strings.TrimSuffix(m.Error, ": "+ErrNotFound.Error()), ErrNotFound)
			case "notexec":
				return fmt.Errorf("init: %s: %w", strings.TrimSuffix(m.Error, ": "+ErrNotExecutable.Error()), ErrNotExecutable)
			}
			return errors.New("init: " + m.Error)
		default:
			return fmt.Errorf("init: unknown message %q", m.Type)
		}
	}
}

// takeConsole keeps the init's pty master for the caller or passes it to the console socket.
func takeConsole(f *os.File, opts CreateOptions, c *Container) error {
	if f == nil {
		return errors.New("init: console message without a descriptor")
	}
	if opts.ConsoleSocket == "" {
		c.Console = f
		return nil
	}
	err := sendConsole(opts.ConsoleSocket, f)
	f.Close()
	return err
}

// runCreateHooks runs the hooks due before pivot_root, in the runtime's namespaces.
func runCreateHooks(ctx context.Context, spec *specs.Spec, st specs.State, rec *trace.Recorder) error {
	st.Status = StatusCreating
	for _, hs := range []struct {
		name  string
		hooks []specs.Hook
	}{{"prestart", spec.Hooks.Prestart}, {"createRuntime", spec.Hooks.CreateRuntime}, {"createContainer", spec.Hooks.CreateContainer}} {
		if len(hs.hooks) == 0 {
			continue
		}
		done := rec.Begin("hooks", hs.name)
		err := runHooks(ctx, hs.hooks, st)
		done(err)
		if err != nil {
			return fmt.Errorf("%s hook: %w", hs.name, err)
		}
	}
	return nil
}

// conversePlan answers the C init (initc.c) until it is ready or fails: its console, the
// hooks stop, its timings.
func (r *Runtime) conversePlan(ctx context.Context, sock *os.File, pl *plan, spec *specs.Spec, st specs.State, opts CreateOptions, c *Container, rec *trace.Recorder) error {
	for {
		b, f, err := recvPacket(int(sock.Fd()))
		if err != nil {
			if errors.Is(err, errEOF) {
				return errors.New("init: exited during setup")
			}
			return fmt.Errorf("init: read sync socket: %w", err)
		}
		m, err := parseCMessage(b)
		if err != nil {
			return fmt.Errorf("init: sync message: %w", err)
		}
		rec.Add(pl.steps(m.timings, rec.Origin(), c.Pid)...)
		switch m.typ {
		case msgCConsole:
			if err := takeConsole(f, opts, c); err != nil {
				return err
			}
		case msgCHooks:
			if err := runCreateHooks(ctx, spec, st, rec); err != nil {
				return err
			}
			cont := make([]byte, 24) // initc.c's struct msg_hdr
			binary.NativeEndian.PutUint32(cont, msgCContinue)
			if err := unix.Sendmsg(int(sock.Fd()), cont, nil, nil, 0); err != nil {
				return fmt.Errorf("init: write sync socket: %w", err)
			}
		case msgCReady:
			if pl.startHooks {
				// The state the startContainer hooks read, as the Go init gives them.
				running := st
				running.Status = StatusRunning
				b, err := json.Marshal(running)
				if err != nil {
					return fmt.Errorf("init: state for startContainer hooks: %w", err)
				}
				if err := unix.Sendmsg(int(sock.Fd()), b, nil, nil, 0); err != nil {
					return fmt.Errorf("init: write sync socket: %w", err)
				}
			}
			return nil
		case msgCError:
			return pl.failure(m)
		default:
			return fmt.Errorf("init: unknown message %d", m.typ)
		}
	}
}

// sendConsole passes the pty master over a unix socket with SCM_RIGHTS, as runc's
// --console-socket does (the name "console" rides along as the data).
func sendConsole(path string, f *os.File) error {
	conn, err := net.DialUnix("unix", nil, &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return fmt.Errorf("console socket: %w", err)
	}
	defer conn.Close()
	if _, _, err := conn.WriteMsgUnix([]byte("console"), unix.UnixRights(int(f.Fd())), nil); err != nil {
		return fmt.Errorf("console socket: send pty master: %w", err)
	}
	return nil
}
