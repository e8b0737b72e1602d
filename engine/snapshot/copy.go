package snapshot

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// CopyRootfs is the fallback where overlayfs is missing (no module, a filesystem it cannot
// stack on): it materializes an image's merged view in target, an empty directory, by
// copying its layers bottom-up and applying each layer's whiteouts (0/0 character devices:
// delete) and opaque directories (trusted.overlay.opaque=y: empty what the layers below put
// there) as overlayfs would. lowers are topmost first, as LowerDirs returns them.
//
// It writes through Root: a symlink an earlier layer left in target is replaced, never
// followed. Ownership, modes, times, xattrs (but trusted.overlay.*), hard links within a
// layer, devices and fifos are kept. It costs a copy of the image per container, which is
// why overlayfs is preferred.
func CopyRootfs(lowers []string, target string) error {
	dst, err := OpenRoot(target)
	if err != nil {
		return err
	}
	defer dst.Close()
	for i := len(lowers) - 1; i >= 0; i-- {
		if err := copyLayer(lowers[i], dst); err != nil {
			return fmt.Errorf("copy layer %s into %s: %w", lowers[i], target, err)
		}
	}
	return nil
}

func copyLayer(src string, dst *Root) error {
	links := map[uint64]string{} // inode -> first path copied, for hard links
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil || rel == "." {
			return err
		}
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			return fmt.Errorf("lstat %s: %w", p, err)
		}
		dir, base := filepath.Split(rel)
		dir = strings.TrimSuffix(dir, "/")
		if dir == "" {
			dir = "."
		}
		pfd, err := dst.OpenDir(dir, true)
		if err != nil {
			return err
		}
		// remove deletes base from the copy; pfd, its parent, stays valid and open.
		remove := func() error {
			if err := RemoveAt(pfd, base); err != nil {
				return err
			}
			dst.ForgetExcept(dir)
			return nil
		}
		kind := st.Mode & unix.S_IFMT
		if kind == unix.S_IFCHR && st.Rdev == 0 {
			// A whiteout: the path is gone from the merged view.
			return remove()
		}
		old, exists, err := Lstat(pfd, base)
		if err != nil {
			return err
		}
		if exists && !(kind == unix.S_IFDIR && old.Mode&unix.S_IFMT == unix.S_IFDIR) {
			if err := remove(); err != nil {
				return err
			}
			exists = false
		}
		switch kind {
		case unix.S_IFDIR:
			if exists && IsOpaque(p) {
				// Replace what the layers below put here with this layer's directory.
				if err := remove(); err != nil {
					return err
				}
				exists = false
			}
			if !exists {
				if err := unix.Mkdirat(pfd, base, 0o700); err != nil {
					return fmt.Errorf("mkdirat %s: %w", rel, err)
				}
			}
		case unix.S_IFREG:
			if st.Nlink > 1 {
				if first, ok := links[st.Ino]; ok {
					return linkIn(dst, first, pfd, base, rel)
				}
				links[st.Ino] = rel
			}
			if err := copyFile(p, pfd, base, rel); err != nil {
				return err
			}
		case unix.S_IFLNK:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			if err := unix.Symlinkat(target, pfd, base); err != nil {
				return fmt.Errorf("symlinkat %s: %w", rel, err)
			}
		case unix.S_IFCHR, unix.S_IFBLK, unix.S_IFIFO:
			if err := unix.Mknodat(pfd, base, kind|0o600, int(st.Rdev)); err != nil {
				return fmt.Errorf("mknodat %s: %w", rel, err)
			}
		default:
			return nil // sockets are not image content
		}
		return copyMeta(p, pfd, base, rel, &st)
	})
}

// IsOpaque says whether p is an opaque directory (trusted.overlay.opaque=y, overlayfs(5)):
// what the layers below hold under it is hidden.
func IsOpaque(p string) bool {
	buf := make([]byte, 4)
	n, err := unix.Lgetxattr(p, "trusted.overlay.opaque", buf)
	return err == nil && string(buf[:n]) == "y"
}

func linkIn(dst *Root, first string, pfd int, base, rel string) error {
	fdir, fbase := filepath.Split(first)
	ffd, err := dst.OpenDir(strings.TrimSuffix(fdir, "/"), false)
	if err != nil {
		return err
	}
	if err := unix.Linkat(ffd, fbase, pfd, base, 0); err != nil {
		return fmt.Errorf("linkat %s -> %s: %w", rel, first, err)
	}
	return nil
}

func copyFile(src string, pfd int, base, rel string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	fd, err := unix.Openat(pfd, base, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return fmt.Errorf("create %s: %w", rel, err)
	}
	out := os.NewFile(uintptr(fd), rel)
	defer out.Close()
	// *os.File to *os.File: Go uses copy_file_range(2), so the kernel copies (or reflinks).
	if _, err := io.Copy(out, in); err != nil {
		return fmt.Errorf("copy %s: %w", rel, err)
	}
	return nil
}

// copyMeta gives the copy its owner, mode, xattrs and times, in the order that keeps them:
// chown clears setuid bits and security.capability, so it goes first.
func copyMeta(src string, pfd int, base, rel string, st *unix.Stat_t) error {
	if err := unix.Fchownat(pfd, base, int(st.Uid), int(st.Gid), unix.AT_SYMLINK_NOFOLLOW); err != nil && !errors.Is(err, unix.EPERM) {
		return fmt.Errorf("fchownat %s: %w", rel, err)
	}
	kind := st.Mode & unix.S_IFMT
	if kind != unix.S_IFLNK {
		if err := unix.Fchmodat(pfd, base, st.Mode&0o7777, 0); err != nil {
			return fmt.Errorf("fchmodat %s: %w", rel, err)
		}
		if err := copyXattrs(src, pfd, base, rel, kind); err != nil {
			return err
		}
	}
	ts := []unix.Timespec{st.Atim, st.Mtim}
	if err := unix.UtimesNanoAt(pfd, base, ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("utimensat %s: %w", rel, err)
	}
	return nil
}

func copyXattrs(src string, pfd int, base, rel string, kind uint32) error {
	size, err := unix.Llistxattr(src, nil)
	if err != nil || size == 0 {
		return nil
	}
	names := make([]byte, size)
	size, err = unix.Llistxattr(src, names)
	if err != nil {
		return nil
	}
	flags := unix.O_RDONLY | unix.O_NOFOLLOW | unix.O_CLOEXEC
	if kind != unix.S_IFDIR && kind != unix.S_IFREG {
		return nil // xattrs on devices would need opening them
	}
	fd, err := unix.Openat(pfd, base, flags, 0)
	if err != nil {
		return fmt.Errorf("open %s: %w", rel, err)
	}
	defer unix.Close(fd)
	for _, name := range strings.Split(strings.TrimRight(string(names[:size]), "\x00"), "\x00") {
		if name == "" || strings.HasPrefix(name, "trusted.overlay.") {
			continue
		}
		val := make([]byte, 64<<10)
		n, err := unix.Lgetxattr(src, name, val)
		if err != nil {
			continue
		}
		if err := unix.Fsetxattr(fd, name, val[:n], 0); err != nil && !errors.Is(err, unix.ENOTSUP) {
			return fmt.Errorf("setxattr %s on %s: %w", name, rel, err)
		}
	}
	return nil
}
