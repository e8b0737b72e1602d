// Package atomicfile replaces a file's content so that a reader sees the old content or the new,
// never a mix: write a temporary file in the same directory, then put it in the name's place
// (rename within one filesystem is atomic, rename(2) "If newpath already exists, it will be
// atomically replaced"). An existing file is exchanged with the temporary one
// (renameat2(2) RENAME_EXCHANGE, "Atomically exchange oldpath and newpath") and its old inode
// then unlinked: a rename over an existing file has ext4 (auto_da_alloc) start writing the new
// file's data to disk inside the rename, a block allocation and a disk write (60-80 us here)
// for records replaced or removed again within milliseconds. What survives a crash of the machine, as opposed to one of the
// process, is the caller's choice of Durability, made explicit at every call.
package atomicfile

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"
)

// Durability is what a write promises across a power loss or kernel crash. Every level is
// atomic for readers and survives a crash of the writing process.
type Durability int

const (
	// Atomic writes without fsync(2). After a power loss the file may hold the old content,
	// the new, or nothing at all (a rename can reach the disk before the data it names; ext4's
	// auto_da_alloc guard is for renames over a file, which this package does not do). For files that do not
	// outlive a boot or that a reader can lose: pid files, state under /run, traces, caches.
	Atomic Durability = iota
	// Synced fsyncs the data before the rename: after a power loss the file holds the old
	// content or the new, never a truncated one. For records parsed at every start.
	Synced
	// Durable is Synced and then fsyncs the directory, so the new name is on disk when
	// WriteFile returns (fsync(2): "Calling fsync() does not necessarily ensure that the entry
	// in the directory containing the file has also reached disk. For that an explicit fsync()
	// on a file descriptor for the directory is also needed."). For what a user was told is
	// saved: a configuration they changed.
	Durable
)

func (d Durability) String() string {
	switch d {
	case Atomic:
		return "atomic"
	case Synced:
		return "synced"
	case Durable:
		return "durable"
	}
	return "durability(" + strconv.Itoa(int(d)) + ")"
}

// WriteFile replaces path's content with data at the given durability. The file is always a
// new inode: its mode is perm less the umask (as for a file os.WriteFile creates), also when
// path existed with another mode. On an error before the rename, path is unchanged and no
// temporary file is left behind; a Durable write whose directory fsync fails has replaced
// the content and says so in its error.
func WriteFile(path string, data []byte, perm os.FileMode, d Durability) error {
	if d < Atomic || d > Durable {
		return fmt.Errorf("write %s: unknown durability %d", path, d)
	}
	f, err := createTemp(path, perm)
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmp := f.Name()
	err = fill(f, data, d)
	if cerr := f.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("close %s: %w", tmp, cerr)
	}
	if err == nil {
		if rerr := replace(tmp, path); rerr != nil {
			err = fmt.Errorf("rename %s: %w", tmp, rerr)
		}
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	if d == Durable {
		if err := syncDir(filepath.Dir(path)); err != nil {
			// The new content is in place; only its durability is in doubt.
			return fmt.Errorf("write %s: %w", path, err)
		}
	}
	return nil
}

// replace puts tmp in path's place: exchanged with an existing file, whose old inode is then
// unlinked under tmp's name, or renamed where there is none (ENOENT), the filesystem cannot
// exchange (EINVAL), or path is not a regular file (exchanged back: rename(2) says why not).
func replace(tmp, path string) error {
	if err := unix.Renameat2(unix.AT_FDCWD, tmp, unix.AT_FDCWD, path, unix.RENAME_EXCHANGE); err == nil {
		var st unix.Stat_t
		if unix.Lstat(tmp, &st) == nil && st.Mode&unix.S_IFMT == unix.S_IFREG {
			os.Remove(tmp)
			return nil
		}
		if err := unix.Renameat2(unix.AT_FDCWD, tmp, unix.AT_FDCWD, path, unix.RENAME_EXCHANGE); err != nil {
			return fmt.Errorf("exchange %s back: %w", path, err)
		}
	}
	return os.Rename(tmp, path)
}

func fill(f *os.File, data []byte, d Durability) error {
	if _, err := f.Write(data); err != nil {
		return fmt.Errorf("write %s: %w", f.Name(), err)
	}
	if d >= Synced {
		if err := f.Sync(); err != nil {
			return fmt.Errorf("fsync %s: %w", f.Name(), err)
		}
	}
	return nil
}

// createTemp makes a new file beside path, named after it and hidden (".NAME.tmp-RANDOM"),
// with O_EXCL so that two writers, or a file someone else made, never share one.
func createTemp(path string, perm os.FileMode) (*os.File, error) {
	dir, base := filepath.Split(path)
	for range 100 {
		name := filepath.Join(dir, "."+base+".tmp-"+strconv.FormatUint(rand.Uint64(), 36))
		f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
		if errors.Is(err, os.ErrExist) {
			continue
		}
		return f, err
	}
	return nil, fmt.Errorf("create a temporary file beside %s: every name tried exists", path)
}

func syncDir(dir string) error {
	if dir == "" {
		dir = "."
	}
	f, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("open directory %s: %w", dir, err)
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		return fmt.Errorf("fsync directory %s: %w", dir, err)
	}
	return nil
}
