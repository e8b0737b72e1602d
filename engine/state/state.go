// Package state keeps glassbox's per-container records on disk: ROOT/containers/<id>/ holds
// the container's record (state.json), its OCI bundle, its overlay upper and work directories,
// its /etc files, log and attach socket. Records are written atomically (write, fsync, rename)
// under an flock(2) on the container's lock file, so several glassbox processes (CLIs, the TUI,
// shims) can read and update them at once. Names are reserved with O_EXCL files under
// ROOT/names/, which makes a name unique across processes without a daemon.
package state

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/glassbox/glassbox/internal/atomicfile"
	"github.com/glassbox/glassbox/internal/topdir"
)

// Status values, docker's words.
const (
	Creating = "creating" // Create has not finished; CreatorPid is doing it
	Created  = "created"
	Running  = "running"
	Exited   = "exited"
	Dead     = "dead" // a create or removal was cut off half-way: gc removes it
)

// Record is what glassbox knows about one container.
type Record struct {
	ID      string    `json:"id"`
	Name    string    `json:"name"`
	Image   string    `json:"image"`
	ImageID string    `json:"imageId"`
	Command []string  `json:"command"`
	Created time.Time `json:"created"`

	Status       string    `json:"status"`
	CreatorPid   int       `json:"creatorPid,omitempty"`
	CreatorStart uint64    `json:"creatorStart,omitempty"`
	Pid          int       `json:"pid,omitempty"`
	ShimPid      int       `json:"shimPid,omitempty"`
	ShimStart    uint64    `json:"shimStart,omitempty"` // the shim's start time in clock ticks (/proc/PID/stat field 22), against PID reuse
	ExitCode     int       `json:"exitCode"`
	OOMKilled    bool      `json:"oomKilled,omitempty"`
	Error        string    `json:"error,omitempty"`
	StartedAt    time.Time `json:"startedAt,omitzero"`
	FinishedAt   time.Time `json:"finishedAt,omitzero"`

	Lowers      []string          `json:"lowers"`
	CgroupPaths map[string]string `json:"cgroupPaths,omitempty"`
	// Options are the engine's CreateOptions as given (JSON), for inspect and restart.
	Options json.RawMessage `json:"options,omitempty"`
	// Ephemeral records (run --rm) are written without fsync: the record lives only while its
	// container runs, and after a power cut there is no container left to describe.
	Ephemeral bool `json:"ephemeral,omitempty"`
}

// Store is the containers directory of a root.
type Store struct {
	root string
}

// Open returns the store under root (ROOT/containers and ROOT/names), creating them.
func Open(root string) (*Store, error) {
	s := &Store{root: root}
	for _, d := range []string{s.containersDir(), s.namesDir(), s.TrashDir(), s.exitsDir()} {
		if err := os.MkdirAll(d, 0o711); err != nil {
			return nil, fmt.Errorf("create %s: %w", d, err)
		}
	}
	// Each container's directory in a block group of its own (a hint: errors change nothing).
	topdir.Mark(s.containersDir())
	return s, nil
}

func (s *Store) containersDir() string { return filepath.Join(s.root, "containers") }
func (s *Store) namesDir() string      { return filepath.Join(s.root, "names") }

// exitsDir holds the last records of removed containers for a while (see Discard).
func (s *Store) exitsDir() string { return filepath.Join(s.root, "exits") }

// TrashDir holds the directories of removed containers until their files are deleted.
func (s *Store) TrashDir() string { return filepath.Join(s.root, "trash") }

// Dir is container id's directory.
func (s *Store) Dir(id string) string { return filepath.Join(s.containersDir(), id) }

// Paths inside a container's directory.
func (s *Store) Bundle(id string) string    { return s.Dir(id) }
func (s *Store) Rootfs(id string) string    { return filepath.Join(s.Dir(id), "rootfs") }
func (s *Store) Upper(id string) string     { return filepath.Join(s.Dir(id), "upper") }
func (s *Store) Work(id string) string      { return filepath.Join(s.Dir(id), "work") }
func (s *Store) LogPath(id string) string   { return filepath.Join(s.Dir(id), "log.json") }
func (s *Store) Socket(id string) string    { return filepath.Join(s.Dir(id), "attach.sock") }
func (s *Store) TracePath(id string) string { return filepath.Join(s.Dir(id), "trace.json") }
func (s *Store) ShimLog(id string) string   { return filepath.Join(s.Dir(id), "shim.log") }
func (s *Store) EventsPath() string         { return filepath.Join(s.root, "events.json") }

// ExecFastPath is the record the exec fast path runs execs from (nsenter.FastExec). write
// removes it: whatever changes the record may change what an exec must do, and the next Go
// exec writes it again.
func (s *Store) ExecFastPath(id string) string { return filepath.Join(s.Dir(id), "exec.fast") }

// ExecPrivilegedPath marks a running container that an exec --privileged entered: a process
// in it may hold CAP_SYS_PTRACE in the host's user namespace, and the exec fast path, which
// enters from the glassbox binary itself rather than from a read-only clone of it, stays off
// until the container stops (write removes the mark with any record that is not running).
func (s *Store) ExecPrivilegedPath(id string) string {
	return filepath.Join(s.Dir(id), "exec.privileged")
}

// ErrNotFound and ErrNameInUse are wrapped by the store's errors.
var (
	ErrNotFound  = errors.New("no such container")
	ErrNameInUse = errors.New("name in use")
)

// validName reports whether s is a docker-style container name: [/]<alnum>[alnum_.-]*. A plain
// check, not a regexp compiled at package init that every glassbox process would pay for.
func validName(s string) bool {
	s = strings.TrimPrefix(s, "/")
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		alnum := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
		if !alnum && (i == 0 || c != '_' && c != '.' && c != '-') {
			return false
		}
	}
	return true
}

// NewID returns a random 64-hex-digit container ID, as docker's.
func NewID() string {
	var b [32]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// ValidID says whether s has the form of a container ID NewID makes.
func ValidID(s string) bool {
	if len(s) != 64 {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil && strings.ToLower(s) == s
}

// Create reserves name (generated when empty) for a new container and makes its directory
// with rec as its first record. A name in use fails with ErrNameInUse and changes nothing.
func (s *Store) Create(rec *Record) error {
	generated := rec.Name == ""
	if generated {
		rec.Name = generateName(rec.ID, 0)
	}
	rec.Name = strings.TrimPrefix(rec.Name, "/")
	if !validName(rec.Name) || len(rec.Name) > 128 {
		return fmt.Errorf("invalid container name (%s), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed", rec.Name)
	}
	err := s.reserveName(rec.Name, rec.ID)
	// A generated name can collide (100 words x 65536 suffixes: one in a few hundred runs of
	// 200 containers): take the next one the ID offers, as docker retries its generator.
	for try := 1; generated && errors.Is(err, ErrNameInUse) && try < 8; try++ {
		rec.Name = generateName(rec.ID, try)
		err = s.reserveName(rec.Name, rec.ID)
	}
	if err != nil {
		return err
	}
	// 0711: searchable, not listable, so a --userns=remap root can reach its rootfs below.
	if err := os.Mkdir(s.Dir(rec.ID), 0o711); err != nil {
		os.Remove(filepath.Join(s.namesDir(), rec.Name))
		return fmt.Errorf("create container directory: %w", err)
	}
	if err := s.write(rec); err != nil {
		s.Delete(rec.ID, rec.Name)
		return err
	}
	return nil
}

// reserveName creates ROOT/names/NAME with O_EXCL: of two processes racing for a name, exactly
// one wins. A reservation whose container directory is gone (a crash between the two steps) is
// stale and taken over.
func (s *Store) reserveName(name, id string) error {
	p := filepath.Join(s.namesDir(), name)
	for attempt := 0; attempt < 2; attempt++ {
		f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err == nil {
			_, werr := f.WriteString(id)
			f.Close()
			return werr
		}
		if !errors.Is(err, os.ErrExist) {
			return fmt.Errorf("reserve name %s: %w", name, err)
		}
		owner, _ := os.ReadFile(p)
		if len(owner) > 0 {
			if _, err := os.Stat(s.Dir(string(owner))); err == nil {
				return fmt.Errorf("the container name %q is already in use by container %q: %w", "/"+name, string(owner), ErrNameInUse)
			}
			if attempt == 0 && time.Since(modTime(p)) > 10*time.Second {
				os.Remove(p) // stale: its container directory never came or is gone
				continue
			}
		}
		return fmt.Errorf("the container name %q is already in use: %w", "/"+name, ErrNameInUse)
	}
	return fmt.Errorf("the container name %q is already in use: %w", "/"+name, ErrNameInUse)
}

func modTime(p string) time.Time {
	st, err := os.Stat(p)
	if err != nil {
		return time.Time{}
	}
	return st.ModTime()
}

// generateName gives docker-like readable default names, unique enough with the ID's digits.
// try picks another suffix from the ID for a retry after a collision.
func generateName(id string, try int) string {
	adjectives := []string{"brave", "calm", "eager", "fond", "keen", "lucid", "quiet", "sharp", "swift", "wise"}
	nouns := []string{"curie", "dijkstra", "hopper", "knuth", "lovelace", "noether", "ritchie", "thompson", "torvalds", "turing"}
	b, _ := hex.DecodeString(id[:4])
	off := 4 + 4*(try%15)
	return adjectives[int(b[0])%len(adjectives)] + "_" + nouns[int(b[1])%len(nouns)] + "_" + id[off:off+4]
}

// lock takes an exclusive flock on the container's record lock; the returned func releases it.
func (s *Store) lock(id string) (func(), error) { return s.Lock(id, "lock") }

// Lock takes an exclusive flock(2) on the container's lock file named name (waiting for it);
// the returned func releases it. "start" serializes starts of one container across processes.
func (s *Store) Lock(id, name string) (func(), error) {
	unlock, _, err := s.flock(id, name, unix.LOCK_EX)
	return unlock, err
}

// TryLock is Lock without the wait: ok is false, and nothing held, when another process
// holds the lock. "shim.lock" is held by a container's shim for its whole life, so a free
// one says no shim is behind the container's runtime state.
func (s *Store) TryLock(id, name string) (unlock func(), ok bool, err error) {
	return s.flock(id, name, unix.LOCK_EX|unix.LOCK_NB)
}

func (s *Store) flock(id, name string, how int) (func(), bool, error) {
	f, err := os.OpenFile(filepath.Join(s.Dir(id), name), os.O_RDWR|os.O_CREATE|unix.O_CLOEXEC, 0o600)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, false, fmt.Errorf("container %s: %w", id, ErrNotFound)
		}
		return nil, false, fmt.Errorf("open lock of %s: %w", id, err)
	}
	if err := unix.Flock(int(f.Fd()), how); err != nil {
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, false, nil
		}
		return nil, false, fmt.Errorf("flock %s: %w", f.Name(), err)
	}
	return func() { f.Close() }, true, nil
}

// write replaces state.json atomically: a reader sees the old record or the new, never half.
func (s *Store) write(rec *Record) error {
	data, err := json.MarshalIndent(rec, "", "  ")
	if err != nil {
		return err
	}
	// Synced, not Durable: after a power loss the record may be the one before (recovery
	// reconciles it with the processes, which are gone anyway) but never a truncated one. An
	// ephemeral record (run --rm) is only atomic: it dies with its container.
	durability := atomicfile.Synced
	if rec.Ephemeral {
		durability = atomicfile.Atomic
	}
	stale := []string{s.ExecFastPath(rec.ID)}
	if rec.Status != Running {
		stale = append(stale, s.ExecPrivilegedPath(rec.ID)) // its processes are gone
	}
	for _, p := range stale {
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("write state of %s: %w", rec.ID, err)
		}
	}
	if err := atomicfile.WriteFile(filepath.Join(s.Dir(rec.ID), "state.json"), data, 0o600, durability); err != nil {
		return fmt.Errorf("write state of %s: %w", rec.ID, err)
	}
	return nil
}

// Get reads container id's record.
func (s *Store) Get(id string) (*Record, error) {
	data, err := os.ReadFile(filepath.Join(s.Dir(id), "state.json"))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("no such container: %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("read state of %s: %w", id, err)
	}
	var rec Record
	if err := json.Unmarshal(data, &rec); err != nil {
		return nil, fmt.Errorf("parse state of %s: %w", id, err)
	}
	return &rec, nil
}

// Update reads, changes (with fn) and writes container id's record under its lock.
func (s *Store) Update(id string, fn func(*Record) error) (*Record, error) {
	unlock, err := s.lock(id)
	if err != nil {
		return nil, err
	}
	defer unlock()
	rec, err := s.Get(id)
	if err != nil {
		return nil, err
	}
	if err := fn(rec); err != nil {
		return rec, err
	}
	return rec, s.write(rec)
}

// List returns every container's record, newest first. Directories without a readable record
// (a create that crashed before its first write) are left to GC.
func (s *Store) List() ([]*Record, error) {
	ents, err := os.ReadDir(s.containersDir())
	if err != nil {
		return nil, fmt.Errorf("list containers: %w", err)
	}
	var recs []*Record
	for _, e := range ents {
		if rec, err := s.Get(e.Name()); err == nil {
			recs = append(recs, rec)
		}
	}
	sort.Slice(recs, func(i, j int) bool { return recs[i].Created.After(recs[j].Created) })
	return recs, nil
}

// IDs lists the container directories, records or not.
func (s *Store) IDs() ([]string, error) {
	ents, err := os.ReadDir(s.containersDir())
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, e := range ents {
		ids = append(ids, e.Name())
	}
	return ids, nil
}

// Resolve finds a container by full ID, name or unique ID prefix, as docker does.
func (s *Store) Resolve(ref string) (string, error) {
	ref = strings.TrimPrefix(ref, "/")
	if ref == "" {
		return "", fmt.Errorf("no such container: %q: %w", ref, ErrNotFound)
	}
	if _, err := os.Stat(filepath.Join(s.Dir(ref), "state.json")); err == nil && !strings.Contains(ref, "/") {
		return ref, nil
	}
	if validName(ref) {
		if owner, err := os.ReadFile(filepath.Join(s.namesDir(), ref)); err == nil {
			if _, err := os.Stat(s.Dir(string(owner))); err == nil {
				return string(owner), nil
			}
		}
	}
	ids, err := s.IDs()
	if err != nil {
		return "", err
	}
	var match []string
	for _, id := range ids {
		if strings.HasPrefix(id, ref) {
			match = append(match, id)
		}
	}
	switch len(match) {
	case 1:
		return match[0], nil
	case 0:
		return "", fmt.Errorf("no such container: %s: %w", ref, ErrNotFound)
	default:
		return "", fmt.Errorf("multiple containers match the prefix %s", ref)
	}
}

// Delete removes container id's directory and releases its name (if still its own).
func (s *Store) Delete(id, name string) error {
	purge, err := s.Discard(id, name)
	if err != nil {
		return err
	}
	return purge()
}

// Discard takes container id out of the store at once: its name is released and its
// directory renamed into TrashDir (rename(2) is atomic: no reader sees half a container).
// purge deletes the files, which can wait (the RemoveAll of an upper directory is the slow
// part of a removal); gc deletes what a crash left in the trash.
//
// The record is kept under ROOT/exits for TombstoneLife (a hard link: no copy): a waiter that
// saw the container before the rename and looks again after it reads how it ended there
// (Tombstone) instead of finding nothing.
func (s *Store) Discard(id, name string) (purge func() error, err error) {
	s.bury(id)
	if name != "" {
		p := filepath.Join(s.namesDir(), name)
		if owner, err := os.ReadFile(p); err == nil && string(owner) == id {
			os.Remove(p)
		}
	}
	dir := s.Dir(id)
	trash := filepath.Join(s.TrashDir(), id)
	os.RemoveAll(trash) // a removal of this id cut off before its purge
	if err := os.Rename(dir, trash); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return func() error { return nil }, nil
		}
		// Another filesystem, or no trash directory: remove it in place, now.
		if err := os.RemoveAll(dir); err != nil {
			return nil, fmt.Errorf("remove container directory %s: %w", dir, err)
		}
		return func() error { return nil }, nil
	}
	return func() error {
		if err := os.RemoveAll(trash); err != nil {
			return fmt.Errorf("remove container directory %s: %w", trash, err)
		}
		return nil
	}, nil
}

// TombstoneLife is how long a removed container's last record stays readable: a waiter that
// resolved it before the removal looks again within milliseconds.
const TombstoneLife = time.Minute

// PruneEvery is how often removals look through ROOT/exits for tombstones older than
// TombstoneLife: at most once in it (the mtime of ROOT/exits/.pruned says when one last did).
// On a host of short runs the directory holds a minute's worth, thousands of entries that
// every removal would read.
const PruneEvery = 10 * time.Second

// bury links container id's record into ROOT/exits as <id>.<unix nanoseconds> and, when
// PruneEvery has passed, deletes the links older than TombstoneLife (their names say their
// age: no stat per entry).
func (s *Store) bury(id string) {
	now := time.Now()
	os.Link(filepath.Join(s.Dir(id), "state.json"), filepath.Join(s.exitsDir(), fmt.Sprintf("%s.%d", id, now.UnixNano())))
	if s.pruneDue(now) {
		s.PruneTombstones(now.Add(-TombstoneLife))
	}
}

// pruneDue says whether PruneEvery has passed since the last prune, and if so marks now as
// the last (grun_create.c's grun_prune_tombstones does the same).
func (s *Store) pruneDue(now time.Time) bool {
	mark := filepath.Join(s.exitsDir(), ".pruned")
	if fi, err := os.Stat(mark); err == nil {
		if age := now.Sub(fi.ModTime()); age >= 0 && age < PruneEvery {
			return false
		}
	}
	if f, err := os.OpenFile(mark, os.O_WRONLY|os.O_CREATE, 0o600); err == nil {
		f.Close()
	}
	os.Chtimes(mark, now, now)
	return true
}

// PruneTombstones deletes the tombstones made before cutoff.
func (s *Store) PruneTombstones(cutoff time.Time) {
	ents, _ := os.ReadDir(s.exitsDir())
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), ".") {
			continue // .pruned
		}
		_, nanos, _ := strings.Cut(e.Name(), ".")
		var n int64
		if _, err := fmt.Sscan(nanos, &n); err != nil || time.Unix(0, n).Before(cutoff) {
			os.Remove(filepath.Join(s.exitsDir(), e.Name()))
		}
	}
}

// Tombstone reads the last record of removed container id, kept for TombstoneLife after its
// removal; ErrNotFound when there is none.
func (s *Store) Tombstone(id string) (*Record, error) {
	ents, _ := os.ReadDir(s.exitsDir())
	for i := len(ents) - 1; i >= 0; i-- { // sorted by name: the newest of id's last
		if strings.HasPrefix(ents[i].Name(), id+".") {
			data, err := os.ReadFile(filepath.Join(s.exitsDir(), ents[i].Name()))
			if err != nil {
				break
			}
			var rec Record
			if err := json.Unmarshal(data, &rec); err != nil {
				return nil, fmt.Errorf("parse the last record of %s: %w", id, err)
			}
			return &rec, nil
		}
	}
	return nil, fmt.Errorf("no such container: %s: %w", id, ErrNotFound)
}
