package snapshot

import (
	"errors"
	"fmt"
	"os"
	"path"
	"strings"

	"golang.org/x/sys/unix"
)

// Root is a directory that writes are confined to: a layer being unpacked, a rootfs being
// copied. Every path is resolved relative to the directory's fd with openat2(2)
// RESOLVE_IN_ROOT|RESOLVE_NO_MAGICLINKS, so a symlink inside the tree (to "/", to "../..")
// resolves as if the tree were "/" and no lookup ever leaves it; the last component of a
// path is created or opened without following links (O_NOFOLLOW, mknodat, symlinkat,
// linkat without AT_SYMLINK_FOLLOW). This is the security boundary of unpacking.
type Root struct {
	fd  int
	dir string
	// dirs caches open directory fds by relative path: layer tarballs list files in
	// directory order, so most entries reuse their parent's fd instead of walking again.
	dirs map[string]int
}

// maxCachedDirs bounds the fds a Root keeps open.
const maxCachedDirs = 128

// OpenRoot opens dir as a confinement root.
func OpenRoot(dir string) (*Root, error) {
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", dir, err)
	}
	return &Root{fd: fd, dir: dir, dirs: map[string]int{}}, nil
}

// Dir is the root's path on the host (for messages).
func (r *Root) Dir() string { return r.dir }

// FD is the root directory's file descriptor.
func (r *Root) FD() int { return r.fd }

// Close closes the root and every cached directory.
func (r *Root) Close() error {
	r.Forget()
	return unix.Close(r.fd)
}

// Forget closes the cached directory fds. Call it after anything is removed or replaced:
// a cached fd may name a directory that is no longer at its path.
func (r *Root) Forget() { r.ForgetExcept("") }

// ForgetExcept is Forget but keeps the fd of the directory keep (a Clean path), which the
// caller still holds: removing an entry inside a directory leaves the directory itself valid.
func (r *Root) ForgetExcept(keep string) {
	for k, fd := range r.dirs {
		if k == keep && keep != "" {
			continue
		}
		unix.Close(fd)
		delete(r.dirs, k)
	}
}

// ErrEscape is wrapped by errors about a path that leaves its root.
var ErrEscape = errors.New("path escapes the root")

// Clean turns an archive entry name into a path relative to the root: a leading "/" is
// dropped (absolute names are made relative, as docker does) and "." and ".." are resolved
// lexically. A name whose ".." climbs above the root is refused with ErrEscape. "." is the
// root itself.
func Clean(name string) (string, error) {
	rel := path.Clean("/" + name)
	// path.Clean of a rooted path drops leading ".." silently, so detect climbing first.
	depth := 0
	for _, c := range strings.Split(name, "/") {
		switch c {
		case "", ".":
		case "..":
			depth--
			if depth < 0 {
				return "", fmt.Errorf("%q: %w", name, ErrEscape)
			}
		default:
			depth++
		}
	}
	if rel == "/" {
		return ".", nil
	}
	return rel[1:], nil
}

// resolveHow is how every lookup below the root is done.
func resolveHow(flags uint64) *unix.OpenHow {
	return &unix.OpenHow{
		Flags:   flags | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS,
	}
}

// OpenDir returns an fd for the directory at rel (a Clean path), cached: do not close it.
// With create, missing directories are made (mode 0755, as docker does for parents a layer
// does not list).
func (r *Root) OpenDir(rel string, create bool) (int, error) {
	if rel == "." || rel == "" {
		return r.fd, nil
	}
	if fd, ok := r.dirs[rel]; ok {
		return fd, nil
	}
	fd, err := unix.Openat2(r.fd, rel, resolveHow(unix.O_RDONLY|unix.O_DIRECTORY))
	if errors.Is(err, unix.ENOENT) && create {
		parent, base := path.Split(rel)
		pfd, perr := r.OpenDir(strings.TrimSuffix(parent, "/"), true)
		if perr != nil {
			return -1, perr
		}
		if err := unix.Mkdirat(pfd, base, 0o755); err != nil && !errors.Is(err, unix.EEXIST) {
			return -1, fmt.Errorf("mkdirat %s: %w", path.Join(r.dir, rel), err)
		}
		fd, err = unix.Openat2(r.fd, rel, resolveHow(unix.O_RDONLY|unix.O_DIRECTORY))
	}
	if err != nil {
		return -1, fmt.Errorf("openat2 %s in %s: %w", rel, r.dir, err)
	}
	if len(r.dirs) >= maxCachedDirs {
		r.Forget()
	}
	r.dirs[rel] = fd
	return fd, nil
}

// Lstat stats base in the directory dirfd without following a link.
func Lstat(dirfd int, base string) (unix.Stat_t, bool, error) {
	var st unix.Stat_t
	err := unix.Fstatat(dirfd, base, &st, unix.AT_SYMLINK_NOFOLLOW)
	if errors.Is(err, unix.ENOENT) {
		return st, false, nil
	}
	if err != nil {
		return st, false, fmt.Errorf("fstatat %s: %w", base, err)
	}
	return st, true, nil
}

// RemoveAt removes base from the directory dirfd, recursively for a directory, never
// following a link: every step is unlinkat or an O_NOFOLLOW open relative to a held fd.
func RemoveAt(dirfd int, base string) error {
	err := unix.Unlinkat(dirfd, base, 0)
	if err == nil || errors.Is(err, unix.ENOENT) {
		return nil
	}
	if !errors.Is(err, unix.EISDIR) {
		return fmt.Errorf("unlinkat %s: %w", base, err)
	}
	fd, err := unix.Openat(dirfd, base, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open %s: %w", base, err)
	}
	f := os.NewFile(uintptr(fd), base)
	names, err := f.Readdirnames(-1)
	if err != nil {
		f.Close()
		return fmt.Errorf("read dir %s: %w", base, err)
	}
	for _, n := range names {
		if err := RemoveAt(fd, n); err != nil {
			f.Close()
			return fmt.Errorf("%s/%w", base, err)
		}
	}
	f.Close()
	if err := unix.Unlinkat(dirfd, base, unix.AT_REMOVEDIR); err != nil && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("rmdir %s: %w", base, err)
	}
	return nil
}
