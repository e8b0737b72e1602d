package engine

import (
	"encoding/json"
	"io"
	"time"

	"github.com/glassbox/glassbox/engine/trace"
)

// These types are the engine's vocabulary, shared by the CLI (which prints them, as tables or
// JSON) and the TUI (which draws them). Field names and JSON keys follow docker's where docker
// has the same fact, so a docker user reads them without a glossary.

// ImageSummary is one image in the store, as `glassbox images` lists it.
type ImageSummary struct {
	// ID is the config digest ("sha256:..."), as docker's image ID.
	ID string `json:"Id"`
	// RepoTags are the references that point at this image ("127.0.0.1:5000/busybox:latest").
	RepoTags []string `json:"RepoTags"`
	// Digest is the manifest digest the image was pulled or loaded by.
	Digest  string    `json:"Digest"`
	Created time.Time `json:"Created"`
	// Size is the sum of the unpacked sizes of its layers, in bytes.
	Size   int64 `json:"Size"`
	Layers int   `json:"Layers"`
}

// PullProgress reports one layer's progress during a pull or load. The engine calls the
// progress function from several goroutines; it must be safe for that.
type PullProgress struct {
	Ref string `json:"Ref"`
	// Layer is the compressed digest; empty for image-level events (resolving, done).
	Layer string `json:"Layer,omitempty"`
	// Phase is "resolving", "waiting", "downloading", "unpacking", "exists", "done" or "failed".
	Phase string `json:"Phase"`
	// Current and Total are bytes (of the compressed stream while downloading).
	Current int64  `json:"Current"`
	Total   int64  `json:"Total"`
	Err     string `json:"Error,omitempty"`
}

// LayerInfo describes one layer of an image, dive-style.
type LayerInfo struct {
	Index  int    `json:"Index"`
	DiffID string `json:"DiffID,omitempty"`
	// Digest is the compressed blob's digest; empty for an empty (metadata-only) history step.
	Digest         string `json:"Digest,omitempty"`
	CompressedSize int64  `json:"CompressedSize"`
	Size           int64  `json:"Size"`
	CreatedBy      string `json:"CreatedBy"`
	Empty          bool   `json:"Empty"`
	Added          int    `json:"Added"`
	Changed        int    `json:"Changed"`
	Removed        int    `json:"Removed"`
	// Dir is the layer's snapshot directory on disk (what overlayfs uses as a lowerdir).
	Dir string `json:"Dir,omitempty"`
}

// FileNode is one entry of a layer's (or the merged view's) file tree.
type FileNode struct {
	Name string `json:"Name"`
	// Mark is "+" added, "~" changed, "-" removed (a whiteout), or "" unchanged.
	Mark     string      `json:"Mark,omitempty"`
	Mode     uint32      `json:"Mode"`
	Size     int64       `json:"Size"`
	Link     string      `json:"Link,omitempty"`
	Children []*FileNode `json:"Children,omitempty"`
}

// Container is one container as `glassbox ps` lists it.
type Container struct {
	ID      string    `json:"Id"`
	Name    string    `json:"Name"`
	Image   string    `json:"Image"`
	ImageID string    `json:"ImageID"`
	Command string    `json:"Command"`
	Created time.Time `json:"Created"`
	// State is "created", "running", "paused", "exited" or "dead".
	State string `json:"State"`
	// Status is docker's human phrase: "Up 3 minutes", "Exited (3) 2 seconds ago".
	Status     string    `json:"Status"`
	Pid        int       `json:"Pid"`
	ExitCode   int       `json:"ExitCode"`
	StartedAt  time.Time `json:"StartedAt"`
	FinishedAt time.Time `json:"FinishedAt"`
}

// ExitStatus is how a container (or exec'd process) ended.
type ExitStatus struct {
	// Code is the exit code, 128+signal for a signal, -1 when unknown (the shim died).
	Code       int       `json:"ExitCode"`
	OOMKilled  bool      `json:"OOMKilled"`
	FinishedAt time.Time `json:"FinishedAt"`
	Error      string    `json:"Error,omitempty"`
}

// Event is one lifecycle event: create, start, die, oom, destroy (docker's names).
type Event struct {
	Time        time.Time         `json:"time"`
	Action      string            `json:"Action"`
	ContainerID string            `json:"id"`
	Name        string            `json:"name"`
	Image       string            `json:"image,omitempty"`
	Attributes  map[string]string `json:"Attributes,omitempty"`
}

// LogEntry is one line a container wrote, as the shim recorded it.
type LogEntry struct {
	// Stream is "stdout" or "stderr" (a tty container has only stdout).
	Stream string    `json:"stream"`
	Time   time.Time `json:"time"`
	Line   string    `json:"log"`
}

// Change is one path the container changed in its upper directory: A added, C changed, D deleted.
type Change struct {
	Kind string `json:"Kind"`
	Path string `json:"Path"`
}

// TraceStep is one kernel step of a container's create and start, in order.
type TraceStep = trace.Step

// Size is a terminal's size in character cells.
type Size struct {
	Rows, Cols uint16
}

// ImageDetail is `glassbox image inspect`: the summary plus the manifest and config as stored.
type ImageDetail struct {
	ImageSummary
	Manifest json.RawMessage `json:"Manifest"`
	Config   json.RawMessage `json:"Config"`
}

// LayerReport is `glassbox layers`: the layers of an image, dive-style, and what they waste.
type LayerReport struct {
	Image  ImageSummary `json:"Image"`
	Layers []LayerInfo  `json:"Layers"`
	// WastedBytes counts bytes of files that a later layer overwrote or deleted.
	WastedBytes int64 `json:"WastedBytes"`
	// Efficiency is 1 - wasted/total, as dive computes it.
	Efficiency float64      `json:"Efficiency"`
	Wasted     []WastedFile `json:"Wasted,omitempty"`
}

// WastedFile is a path whose bytes are stored more than once, or stored and then deleted.
type WastedFile struct {
	Path  string `json:"Path"`
	Bytes int64  `json:"Bytes"`
	Count int    `json:"Count"`
}

// CreateOptions are `glassbox run`'s and `create`'s flags, docker's names.
type CreateOptions struct {
	Image      string
	Name       string
	Cmd        []string
	Entrypoint []string // nil: the image's; a non-nil empty slice clears it
	Env        []string
	WorkingDir string
	User       string
	Hostname   string
	Tty        bool
	OpenStdin  bool
	AutoRemove bool
	Init       bool
	// Resources; zero means unlimited.
	MemoryBytes     int64
	MemorySwapBytes int64 // -1 unlimited swap
	NanoCPUs        int64
	CPUShares       uint64
	PidsLimit       int64
	Volumes         []string // SRC:DST[:ro]
	Tmpfs           []string // DST[:options]
	ReadOnly        bool
	CapAdd, CapDrop []string
	Privileged      bool
	SecurityOpt     []string
	Userns          string // "host" or "remap"
	CgroupParent    string
	Network         string   // "none", "host", "bridge", "container:NAME"
	Publish         []string // [IP:]HOSTPORT:CONTAINERPORT[/proto]
	// StartNext says the caller starts the container right after Create, as run does: Create
	// then spawns the shim first, so the shim's own start overlaps the mounts and the spec.
	// Not stored with the container.
	StartNext bool `json:"-"`
}

// ContainerDetail is `glassbox inspect`: docker's shape where docker has the fact, plus the
// kernel facts glassbox shows (process chain, cgroup paths, overlay dirs, bundle).
type ContainerDetail struct {
	ID      string    `json:"Id"`
	Name    string    `json:"Name"`
	Created time.Time `json:"Created"`
	Path    string    `json:"Path"`
	Args    []string  `json:"Args"`
	State   struct {
		Status     string    `json:"Status"`
		Running    bool      `json:"Running"`
		Paused     bool      `json:"Paused"`
		Pid        int       `json:"Pid"`
		ExitCode   int       `json:"ExitCode"`
		OOMKilled  bool      `json:"OOMKilled"`
		Error      string    `json:"Error"`
		StartedAt  time.Time `json:"StartedAt"`
		FinishedAt time.Time `json:"FinishedAt"`
	} `json:"State"`
	Image    string        `json:"Image"`
	ImageRef string        `json:"ImageRef"`
	Config   CreateOptions `json:"Config"`
	// HostConfig holds, where docker's inspect has them, the flags docker files there.
	HostConfig struct {
		Init bool `json:"Init"` // --init: glassbox-init is PID 1
	} `json:"HostConfig"`
	Mounts     []MountPoint `json:"Mounts"`
	ShimPid    int          `json:"ShimPid"`
	BundleDir  string       `json:"BundleDir"`
	ConfigPath string       `json:"ConfigPath"` // the OCI config.json
	LogPath    string       `json:"LogPath"`
	// CgroupPaths maps each hierarchy ("memory", "cpu,cpuacct", "unified"...) to its directory.
	CgroupPaths map[string]string `json:"CgroupPaths"`
	GraphDriver struct {
		Name string `json:"Name"` // "overlay"
		Data struct {
			LowerDir  string `json:"LowerDir"`
			UpperDir  string `json:"UpperDir"`
			WorkDir   string `json:"WorkDir"`
			MergedDir string `json:"MergedDir"`
		} `json:"Data"`
	} `json:"GraphDriver"`
	NetworkSettings NetworkSettings `json:"NetworkSettings"`
}

// MountPoint is one mount the container has beyond its rootfs.
type MountPoint struct {
	Type        string `json:"Type"` // bind, tmpfs, volume
	Source      string `json:"Source"`
	Destination string `json:"Destination"`
	RW          bool   `json:"RW"`
}

// NetworkSettings are the container's network facts.
type NetworkSettings struct {
	Mode       string            `json:"NetworkMode"`
	IPAddress  string            `json:"IPAddress,omitempty"`
	Gateway    string            `json:"Gateway,omitempty"`
	MAC        string            `json:"MacAddress,omitempty"`
	Ports      map[string]string `json:"Ports,omitempty"`      // "80/tcp" -> "0.0.0.0:18080"
	SandboxKey string            `json:"SandboxKey,omitempty"` // /proc/PID/ns/net
	HostVeth   string            `json:"HostVeth,omitempty"`
}

// AttachOptions connect a caller's streams to a container's console (Attach) or to a new
// process (Exec). The call copies until the process ends, the caller detaches (ctrl-p ctrl-q
// on Stdin), or ctx ends.
type AttachOptions struct {
	Stdin  io.Reader // nil: no input
	Stdout io.Writer
	Stderr io.Writer // unused with a tty: a terminal has one stream
	// Resize delivers terminal size changes; the first value sets the initial size.
	Resize <-chan Size
	// DetachKeys overrides ctrl-p,ctrl-q (docker's --detach-keys syntax).
	DetachKeys string
}

// ExecOptions are `glassbox exec`'s flags.
type ExecOptions struct {
	Cmd         []string
	Tty         bool
	Interactive bool
	Detach      bool
	User        string
	Env         []string
	WorkingDir  string
	// Privileged gives the process every capability, whatever the container's are.
	Privileged bool
	AttachOptions
}

// LogOptions are `glassbox logs`'s flags.
type LogOptions struct {
	Follow bool
	Since  time.Time
	Tail   int // -1: all
	Stdout bool
	Stderr bool
}

// GCReport is what `glassbox gc` reclaimed.
type GCReport struct {
	Removed []string `json:"Removed"` // one line per thing: "mount /var/lib/glassbox/...", "cgroup ...", "container abc"
	Errors  []string `json:"Errors,omitempty"`
}

// HostInfo is what the workbench's header shows about the machine.
type HostInfo struct {
	Kernel     string `json:"Kernel"`
	CgroupMode string `json:"CgroupMode"` // "v1", "v2", "hybrid"
	Overlay    bool   `json:"Overlay"`
	UserNS     bool   `json:"UserNamespaces"`
	Containers int    `json:"Containers"`
	Running    int    `json:"Running"`
	Images     int    `json:"Images"`
	Root       string `json:"Root"`
}

// ContainerProcess is one process of a running container, as `glassbox top` lists it: its
// PID inside the container and on the host side by side.
type ContainerProcess struct {
	PID     int `json:"PID"`     // in the container's PID namespace
	HostPID int `json:"HostPID"` // in glassbox's
	// PPID is the parent inside the container; 0 when the parent is outside it (the init, a
	// process glassbox exec started).
	PPID    int    `json:"PPID"`
	UID     int    `json:"UID"`
	User    string `json:"User"` // the UID's name in the container's /etc/passwd, else the number
	State   string `json:"State"`
	Command string `json:"Command"` // its command line; [comm] when it has none
}
