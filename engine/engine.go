// Package engine is glassbox's one API: the CLI and the TUI call it to pull images, run and
// stop containers, exec into them and read their state. Nothing outside this package (and its
// subpackages) writes under the root directory.
//
// The Engine is in-process; there is no daemon. Each running container has a shim (a small
// glassbox process) that outlives the caller, so an Engine can be opened and dropped freely.
package engine

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/glassbox/glassbox/internal/topdir"
)

// Options configure an Engine.
type Options struct {
	// Root is glassbox's state directory (default /var/lib/glassbox).
	Root string
	// Log receives debug and warning lines; nil discards them.
	Log *slog.Logger
	// EventsPoll is how often Events looks for new lines in ROOT/events.json (default
	// 100ms) when it cannot watch the file with inotify; each look wakes the process.
	EventsPoll time.Duration
}

// Engine is an open glassbox root directory.
type Engine struct {
	root       string
	log        *slog.Logger
	eventsPoll time.Duration

	mu sync.Mutex
	// pending are shims spawned by a Create with StartNext for their Start: each channel
	// yields the shim once its spawn (in the background of the create) is done, nil if it
	// failed.
	pending map[string]chan *shimProc
}

// ErrNotFound is wrapped by every error about a container, image or layer that does not exist.
var ErrNotFound = errors.New("not found")

// ErrNoImage is wrapped, beside ErrNotFound, by a create whose image is not in the store: the
// CLI pulls it then, as docker's run does.
var ErrNoImage = errors.New("no such image")

// ErrConflict is wrapped by errors about a name in use, an image in use, a container running.
var ErrConflict = errors.New("conflict")

// Open prepares root (creating it with mode 0711 if needed) and returns an Engine over it.
func Open(opts Options) (*Engine, error) {
	root := opts.Root
	if root == "" {
		root = "/var/lib/glassbox"
	}
	root, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("root %q: %w", opts.Root, err)
	}
	if err := os.MkdirAll(root, 0o711); err != nil {
		return nil, fmt.Errorf("create root %s: %w", root, err)
	}
	// A hint to ext4's allocator (its children spread over block groups): failing, nothing
	// is lost but speed.
	topdir.Mark(root)
	log := opts.Log
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	poll := opts.EventsPoll
	if poll <= 0 {
		poll = 100 * time.Millisecond
	}
	return &Engine{root: root, log: log, eventsPoll: poll}, nil
}

// Root is the engine's state directory.
func (e *Engine) Root() string { return e.root }

// Close releases what the engine holds: shims spawned for starts that never came exit.
// Containers keep running.
func (e *Engine) Close() error {
	e.mu.Lock()
	pending := e.pending
	e.pending = nil
	e.mu.Unlock()
	for _, ch := range pending {
		if sp := <-ch; sp != nil {
			sp.abandon()
		}
	}
	return nil
}
