package engine

import (
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
