package runtime

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/glassbox/glassbox/engine/trace"
)

// InitEntry is the hidden re-exec entry of the container's init (cmd/glassbox registers
// InitMain under it).
const InitEntry = "runtime-init"

// Descriptors the init is started with (nsenter.Cmd's ExtraFiles): the caller's preserved
// descriptors (CreateOptions.ExtraFiles, runc's --preserve-fds) at 3, 4..., which the program
// gets at the same numbers, then the sync socket (SOCK_SEQPACKET: one message per send) and
// the exec fifo (O_PATH: reopened for writing once set up). The Go init learns how many
// were preserved from its argument (InitMain), before it can read anything.
func initSyncFD(preserved int) int { return 3 + preserved }
func initFifoFD(preserved int) int { return 4 + preserved }

// initConfig is what the parent sends the init first.
type initConfig struct {
	Spec         *specs.Spec `json:"spec"`
	Rootfs       string      `json:"rootfs"` // absolute, as the parent sees it
	NoPivot      bool        `json:"no_pivot,omitempty"`
	NoNewKeyring bool        `json:"no_new_keyring,omitempty"`
	// Origin is the trace's origin (Unix nanoseconds): the init's steps count from it.
	Origin int64 `json:"origin"`
	// NewNS lists the namespaces the init is in anew (not joined): hostname needs uts, the
	// cgroup mount its own cgroup namespace.
	NewNS map[string]bool `json:"new_ns,omitempty"`
	// JoinedUserNS: the init joins a user namespace by path (not in NewNS): device nodes are
	// bound from the host there too, mknod being refused in any user namespace but the first.
	JoinedUserNS bool `json:"joined_user_ns,omitempty"`
	// CreateHooks: stop before pivot_root so the parent can run createRuntime hooks.
	CreateHooks bool `json:"create_hooks,omitempty"`
	// Cgroups are the container's cgroup hierarchies, for a mount of type cgroup.
	Cgroups []cgroupMount `json:"cgroups,omitempty"`
	// ParentPIDNS: the init is started in its new PID namespace (create.go), the constructor
	// does not fork into one.
	ParentPIDNS bool `json:"parent_pid_ns,omitempty"`
	// State is the container's state for startContainer hooks (run by the init).
	State specs.State `json:"state"`
	// IDMapFDs are the descriptors of the detached idmapped mounts the parent made, by the
	// index of their spec mount (idmap.go): the init attaches them instead of a bind mount.
	IDMapFDs map[int]int `json:"idmap_fds,omitempty"`
	// PreserveFDs is how many descriptors from 3 up the program gets (CreateOptions.ExtraFiles).
	PreserveFDs int `json:"preserve_fds,omitempty"`
	// SeccompCache is the directory of compiled seccomp programs (seccomp_cache.go), for the
	// plan; "" compiles every time. The init is not told.
	SeccompCache string `json:"-"`
	// Reaper: the C init forks the program and stays PID 1 (InitAnnotation). The Go init
	// has no reaper: Create refuses such a spec rather than start it without one.
	Reaper bool `json:"-"`
}

// cgroupMount is one hierarchy of the container's cgroup as the container should see it
// under a mount of type cgroup: Dir under the mount (".": the mount itself, cgroup v2 alone),
// the filesystem type and options, and the host directory to bind when the container has no
// cgroup namespace of its own.
type cgroupMount struct {
	Dir     string `json:"dir"`
	Type    string `json:"type"`
	Options string `json:"options,omitempty"`
	Host    string `json:"host"`
}

// Message types the init sends.
const (
	msgConsole = "console" // the pty master rides along (SCM_RIGHTS)
	msgHooks   = "hooks"   // before pivot_root: run createRuntime hooks, then msgContinue
	msgReady   = "ready"   // set up: waiting on the exec fifo
	msgError   = "error"
)

const msgContinue = "continue" // from the parent

type initMessage struct {
	Type  string       `json:"type"`
	Steps []trace.Step `json:"steps,omitempty"`
	Error string       `json:"error,omitempty"`
	// Kind marks a program that could not be found or executed: "notfound", "notexec".
	Kind string `json:"kind,omitempty"`
}

const maxMessage = 4 << 20

func sendMessage(fd int, v any, oob []byte) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	if len(b) > maxMessage {
		return fmt.Errorf("sync message of %d bytes", len(b))
	}
	return unix.Sendmsg(fd, b, oob, nil, 0)
}

// recvMessage reads one message; a descriptor sent with it is returned as a file.
func recvMessage(fd int, v any) (*os.File, error) {
	b, file, err := recvPacket(fd)
	if err != nil {
		return nil, err
	}
	return file, json.Unmarshal(b, v)
}

// recvPacket reads one packet of the sync socket and the descriptor sent with it, if any.
func recvPacket(fd int) ([]byte, *os.File, error) {
	oob := make([]byte, unix.CmsgSpace(4))
	for {
		// MSG_PEEK|MSG_TRUNC gives the message's real length without taking it.
		size, _, _, _, err := unix.Recvmsg(fd, nil, nil, unix.MSG_PEEK|unix.MSG_TRUNC)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, nil, err
		}
		buf := make([]byte, max(size, 1))
		n, oobn, _, _, err := unix.Recvmsg(fd, buf, oob, unix.MSG_CMSG_CLOEXEC)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, nil, err
		}
		if n == 0 {
			return nil, nil, errEOF
		}
		var file *os.File
		if oobn > 0 {
			msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
			if err == nil && len(msgs) > 0 {
				if fds, err := unix.ParseUnixRights(&msgs[0]); err == nil && len(fds) > 0 {
					file = os.NewFile(uintptr(fds[0]), "console")
				}
			}
		}
		return buf[:n], file, nil
	}
}

var errEOF = errors.New("init closed the sync socket")
