package runtime

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/glassbox/glassbox/engine/trace"
)

// The C init. Create turns the spec into a plan: a flat list of operations, each one kernel
// step with every argument decided here (sources, targets, flags, data, which descriptor
// slot a mount lands on). nsenter's constructor runs it in the container's new namespaces
// (engine/runtime/nsenter/initc.c) and ends in execve, so no Go runtime starts in the init:
// a Go start of this binary is most of what the Go init costs. The plan also keeps, per
// operation, its trace step and the wording of its error, so that the C side only reports an
// operation's index, errno and timings, and the user reads the same messages and trace as
// with the Go init (init.go, rootfs.go), which still runs what a plan cannot say
// (planFallback).

// Operation codes, initc.c's OP_*.
const (
	opBegin         = 1
	opMount         = 2
	opOpen          = 3
	opOpenInRoot    = 4
	opOpenat        = 5
	opClose         = 6
	opMkdirat       = 7
	opCreateat      = 8
	opMknodat       = 9
	opSymlinkat     = 10
	opHooks         = 11
	opPivotRoot     = 12
	opChroot        = 13
	opSethostname   = 14
	opSetdomainname = 15
	opKeyring       = 16
	opConsole       = 17
	opWriteFile     = 18
	opCheckNull     = 19
	opMask          = 20
	opReadonly      = 21
	opRlimit        = 22
	opChdir         = 23
	opSeccomp       = 24
	opBounding      = 25
	opUser          = 26
	opCaps          = 27
	opNNP           = 28
	opLookup        = 29
	opReady         = 30
	opExec          = 31
	opMark          = 32
	opLSMExec       = 33
	opMoveMount     = 34
	opSched         = 35
	opIOPrio        = 36
	opStartHook     = 37
)

// Operation flags, initc.c's OPF_*.
const (
	opfTrace       = 1
	opfIgnoreError = 2
)

// opExec's flags, initc.c's EXEC_*.
const (
	// execReaper: the init forks the program and stays PID 1, forwarding signals and
	// reaping (--init; nsenter/initc_reaper.c).
	execReaper = 1
)

// Messages on the sync socket, initc.c's MSG_*.
const (
	msgCReady    = 1
	msgCHooks    = 2
	msgCConsole  = 3
	msgCError    = 4
	msgCContinue = 5 // from the parent
)

// Failure kinds and step variants, initc.c's KIND_* and VAR_*.
const (
	kindNotFound      = 1
	kindNotExecutable = 2

	varFile    = 1 // a masked path that is a file: /dev/null went over it
	varSkipped = 2 // a masked or read-only path that does not exist: nothing done
)

// Descriptor slots of the plan: the rootfs, then scratch descriptors for one mount at a time.
const (
	slotRoot   = 0
	slotTarget = 1 // where a spec mount lands
	slotTop    = 2 // the same path opened again, to reach the mount just made on it
	slotSub    = 3
	slotNull   = 4 // the checked /dev/null
	slotDev    = 5
	noSlot     = -1
)

// planOp is one operation: what C executes, and what Go makes of its outcome.
type planOp struct {
	code, flags uint32
	a           [6]int64
	s           [4]string
	// step and detail are its trace step (flag opfTrace); fileDetail words varFile.
	step, detail, fileDetail string
	// wrap words a failure as the Go init would ("mounts[7] (/mnt): mount x on /mnt: ...").
	wrap func(error) error
}

// plan is the operations in order.
type plan struct {
	ops []planOp
	// startHooks: the init runs startContainer hooks, and waits after ready for the state
	// they read (conversePlan sends it).
	startHooks bool
	// cloneBegan is when the parent started the init: the execve up to the constructor is
	// traced from it to the constructor's first mark.
	cloneBegan time.Time
}

func (p *plan) add(o planOp) {
	if p.ops == nil {
		p.ops = make([]planOp, 0, 160) // runc's example spec makes about 130
	}
	if o.step != "" {
		o.flags |= opfTrace
	}
	p.ops = append(p.ops, o)
}

// encode writes each operation as u32 code, u32 flags, i64 args[6] and four strings, each a
// u32 length, its bytes and a NUL (initc.c's next_op).
func (p *plan) encode() []byte {
	size := 0
	for _, o := range p.ops {
		size += 8 + 8*len(o.a) + 4*len(o.s)
		for _, str := range o.s {
			size += len(str) + 1
		}
	}
	b := make([]byte, 0, size)
	for _, o := range p.ops {
		b = binary.NativeEndian.AppendUint32(b, o.code)
		b = binary.NativeEndian.AppendUint32(b, o.flags)
		for _, a := range o.a {
			b = binary.NativeEndian.AppendUint64(b, uint64(a))
		}
		for _, str := range o.s {
			b = binary.NativeEndian.AppendUint32(b, uint32(len(str)))
			b = append(b, str...)
			b = append(b, 0)
		}
	}
	return b
}

// cMessage is one message of the C init: initc.c's struct msg_hdr, its timings and text.
type cMessage struct {
	typ     uint32
	index   int32
	errno   int32
	kind    uint32
	timings []cTiming
	text    string
}

// cTiming is initc.c's struct timing: one operation's start (CLOCK_REALTIME) and duration.
type cTiming struct {
	Index      uint32
	Err        int32
	StartNs    int64
	DurationNs int64
	Variant    uint32
	_          uint32
}

func parseCMessage(b []byte) (cMessage, error) {
	var h struct {
		Type, Index, Err, Kind, NTimings, TextLen uint32
	}
	r := bytes.NewReader(b)
	if err := binary.Read(r, binary.NativeEndian, &h); err != nil {
		return cMessage{}, fmt.Errorf("short message of %d bytes", len(b))
	}
	m := cMessage{typ: h.Type, index: int32(h.Index), errno: int32(h.Err), kind: h.Kind}
	if h.NTimings > uint32(len(b)) {
		return m, errors.New("bad timing count")
	}
	m.timings = make([]cTiming, h.NTimings)
	if err := binary.Read(r, binary.NativeEndian, m.timings); err != nil {
		return m, fmt.Errorf("timings: %w", err)
	}
	text := make([]byte, min(int(h.TextLen), r.Len()))
	r.Read(text)
	m.text = string(text)
	return m, nil
}

// steps turns timings into trace steps, as the Go init would have recorded them.
func (p *plan) steps(ts []cTiming, origin time.Time, pid int) []trace.Step {
	var out []trace.Step
	for _, t := range ts {
		if int(t.Index) >= len(p.ops) || t.Variant == varSkipped {
			continue
		}
		o := p.ops[t.Index]
		s := trace.Step{Step: o.step, Detail: o.detail, Start: time.Unix(0, t.StartNs).Sub(origin),
			Duration: time.Duration(t.DurationNs), Pid: pid}
		if t.Variant == varFile && o.fileDetail != "" {
			s.Detail = o.fileDetail
		}
		if o.code == opMark && o.a[0] == 0 && !p.cloneBegan.IsZero() {
			out = append(out, trace.Step{Step: "execve", Detail: "the init: fork, execve of glassbox runtime-init from the read-only binary, the dynamic loader, up to the C constructor",
				Start: p.cloneBegan.Sub(origin), Duration: time.Unix(0, t.StartNs).Sub(p.cloneBegan), Pid: pid})
		}
		switch {
		case t.Err > 0:
			s.Err = unix.Errno(t.Err).Error()
		case t.Err < 0:
			s.Err = "failed"
		}
		out = append(out, s)
	}
	return out
}

// failure words a C failure as the Go init does.
func (p *plan) failure(m cMessage) error {
	var err error
	errno := unix.Errno(m.errno)
	switch {
	case m.text == "" && m.errno != 0:
		err = errno
	case m.errno == 0:
		err = errors.New(m.text)
	case strings.Contains(m.text, "{errno}"):
		// The errno inside the message ("...: too many levels of symbolic links (a symlink
		// is on the way)"), still matched by errors.Is.
		before, after, _ := strings.Cut(m.text, "{errno}")
		err = fmt.Errorf("%s%w%s", before, errno, after)
	default:
		err = fmt.Errorf("%s: %w", m.text, errno)
	}
	if m.index >= 0 && int(m.index) < len(p.ops) {
		if w := p.ops[m.index].wrap; w != nil {
			err = w(err)
		}
	}
	switch m.kind {
	case kindNotFound:
		return fmt.Errorf("init: %w: %w", err, ErrNotFound)
	case kindNotExecutable:
		return fmt.Errorf("init: %w: %w", err, ErrNotExecutable)
	}
	return fmt.Errorf("init: %w", err)
}

// wrapf returns a wrap that prefixes format (which ends in %w) to an error.
func wrapf(format string, args ...any) func(error) error {
	return func(err error) error { return fmt.Errorf(format, append(args, err)...) }
}

// then returns the wrap of inner inside outer: outer(inner(err)).
func then(outer, inner func(error) error) func(error) error {
	return func(err error) error {
		if inner != nil {
			err = inner(err)
		}
		if outer != nil {
			err = outer(err)
		}
		return err
	}
}

func identity(err error) error { return err }

// nulList joins strings as "a\0b\0" (initc.c's split_list).
func nulList(v []string) string {
	var b strings.Builder
	for _, s := range v {
		b.WriteString(s)
		b.WriteByte(0)
	}
	return b.String()
}

// initMode says which init Create starts: the C plan unless GLASSBOX_INIT=go asks for the
// Go init (tests run both).
func initMode() string {
	if os.Getenv("GLASSBOX_INIT") == "go" {
		return "go"
	}
	return "c"
}
