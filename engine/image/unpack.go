package image

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/glassbox/glassbox/engine/snapshot"
)

// Whiteout names, OCI image spec "Representing Changes": ".wh.<name>" deletes <name> from the
// layers below; ".wh..wh..opq" in a directory hides everything below in it.
const (
	whiteoutPrefix = ".wh."
	opaqueMarker   = ".wh..wh..opq"
)

// ErrHostileLayer is wrapped by errors about a layer entry that is refused: a path that
// escapes the layer, a hard link out of it or to nothing, a whiteout of "..".
var ErrHostileLayer = errors.New("refused layer entry")

// ErrLayerTooLarge is wrapped when a layer unpacks to more than the size limit.
var ErrLayerTooLarge = errors.New("layer exceeds the size limit")

// maxEntries bounds the entries of one layer: a tar of millions of empty files is a bomb
// of inodes and of the index held in memory, whatever its byte count. Real layers hold tens
// of thousands.
const maxEntries = 4 << 20

// unpacker writes one layer's tar into a snapshot directory. Every write goes through
// snapshot.Root: openat2 RESOLVE_IN_ROOT for parents, no-follow creation for the last
// component. Nothing outside the directory is written, whatever the tar says.
type unpacker struct {
	root     *snapshot.Root
	asRoot   bool // euid 0: ownership, device nodes and trusted.* xattrs are applied
	maxBytes int64
	written  int64
	log      *slog.Logger
	buf      []byte
	dirTimes map[string]time.Time
	index    map[string]int // path -> position in entries
	entries  []snapshot.Entry
}

// unpackTar extracts the tar stream r into dir (an empty directory), converting whiteouts to
// overlayfs form, and returns its index. maxBytes bounds the bytes of files written.
func unpackTar(r io.Reader, dir string, maxBytes int64, log *slog.Logger) (*snapshot.Index, error) {
	root, err := snapshot.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	defer root.Close()
	u := &unpacker{
		root: root, asRoot: os.Geteuid() == 0, maxBytes: maxBytes, log: log,
		buf: make([]byte, 256<<10), index: map[string]int{}, dirTimes: map[string]time.Time{},
	}
	tr := tar.NewReader(r)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("read layer tar: %w", err)
		}
		if len(u.entries) >= maxEntries {
			return nil, fmt.Errorf("%w: more than %d entries", ErrLayerTooLarge, maxEntries)
		}
		if err := u.entry(hdr, tr); err != nil {
			return nil, err
		}
	}
	if err := u.finishDirs(); err != nil {
		return nil, err
	}
	idx := &snapshot.Index{}
	for _, e := range u.entries {
		if e.Path == "" {
			continue // replaced by a later entry
		}
		idx.Entries = append(idx.Entries, e)
		if e.Kind == snapshot.KindFile {
			idx.Size += e.Size
		}
	}
	return idx, nil
}

// entry unpacks one tar entry.
func (u *unpacker) entry(hdr *tar.Header, tr *tar.Reader) error {
	rel, err := snapshot.Clean(hdr.Name)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrHostileLayer, err)
	}
	if rel == "." {
		return nil // the layer root itself: its metadata belongs to the mount, not the layer
	}
	dir, base := path.Split(rel)
	dir = strings.TrimSuffix(dir, "/")
	if strings.HasPrefix(base, whiteoutPrefix) {
		return u.whiteout(dir, base)
	}
	pfd, err := u.root.OpenDir(dir, true)
	if err != nil {
		return fmt.Errorf("%w: entry %q: parent: %w", ErrHostileLayer, hdr.Name, err)
	}
	isDir := hdr.Typeflag == tar.TypeDir
	if err := u.clear(pfd, rel, base, isDir); err != nil {
		return err
	}
	mode := uint32(hdr.Mode) & 0o7777
	e := snapshot.Entry{Path: rel, Mode: mode}
	switch hdr.Typeflag {
	case tar.TypeDir:
		e.Kind = snapshot.KindDir
		if err := unix.Mkdirat(pfd, base, 0o700); err != nil && !errors.Is(err, unix.EEXIST) {
			return fmt.Errorf("mkdirat %s: %w", rel, err)
		}
		if err := u.owner(pfd, base, rel, hdr); err != nil {
			return err
		}
		if err := unix.Fchmodat(pfd, base, mode, 0); err != nil {
			return fmt.Errorf("fchmodat %s: %w", rel, err)
		}
		if err := u.xattrsAt(pfd, base, rel, hdr); err != nil {
			return err
		}
		u.dirTimes[rel] = hdr.ModTime
	case tar.TypeReg, tar.TypeGNUSparse:
		e.Kind, e.Size = snapshot.KindFile, hdr.Size
		if err := u.file(pfd, base, rel, hdr, tr); err != nil {
			return err
		}
	case tar.TypeSymlink:
		e.Kind, e.Link = snapshot.KindSymlink, hdr.Linkname
		if err := unix.Symlinkat(hdr.Linkname, pfd, base); err != nil {
			return fmt.Errorf("symlinkat %s: %w", rel, err)
		}
		if err := u.owner(pfd, base, rel, hdr); err != nil {
			return err
		}
		if err := setTimes(pfd, base, rel, hdr.ModTime); err != nil {
			return err
		}
	case tar.TypeLink:
		e.Kind, e.Link = snapshot.KindHardlink, hdr.Linkname
		if err := u.hardlink(pfd, base, rel, hdr); err != nil {
			return err
		}
	case tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
		e.Kind = map[byte]string{tar.TypeChar: snapshot.KindChar, tar.TypeBlock: snapshot.KindBlock, tar.TypeFifo: snapshot.KindFifo}[hdr.Typeflag]
		if err := u.node(pfd, base, rel, hdr); err != nil {
			return err
		}
	default:
		return fmt.Errorf("%w: entry %q: unsupported tar type %q", ErrHostileLayer, hdr.Name, hdr.Typeflag)
	}
	u.record(e)
	return nil
}

// record adds e to the index; the last entry for a path wins.
func (u *unpacker) record(e snapshot.Entry) {
	if i, ok := u.index[e.Path]; ok {
		u.entries[i].Path = ""
	}
	u.index[e.Path] = len(u.entries)
	u.entries = append(u.entries, e)
}

// forgetUnder drops index entries at or under rel (they were removed from disk).
func (u *unpacker) forgetUnder(rel string) {
	for p, i := range u.index {
		if p == rel || strings.HasPrefix(p, rel+"/") {
			u.entries[i].Path = ""
			delete(u.index, p)
		}
	}
}

// clear makes room for a new entry at base: a later entry for the same path wins (as tar
// extraction and docker do). An existing directory stays when the new entry is a directory.
func (u *unpacker) clear(pfd int, rel, base string, isDir bool) error {
	st, exists, err := snapshot.Lstat(pfd, base)
	if err != nil || !exists {
		return err
	}
	if isDir && st.Mode&unix.S_IFMT == unix.S_IFDIR {
		return nil
	}
	if err := snapshot.RemoveAt(pfd, base); err != nil {
		return fmt.Errorf("replace %s: %w", rel, err)
	}
	// The caller goes on using pfd, the parent, which the removal left in place.
	u.root.ForgetExcept(path.Dir(rel))
	u.forgetUnder(rel)
	return nil
}

// file writes a regular file's body. The file is created O_EXCL|O_NOFOLLOW, so it is never
// a link to somewhere else.
func (u *unpacker) file(pfd int, base, rel string, hdr *tar.Header, tr *tar.Reader) error {
	u.written += hdr.Size
	if u.maxBytes > 0 && u.written > u.maxBytes {
		return fmt.Errorf("%w (%d bytes): at %s", ErrLayerTooLarge, u.maxBytes, rel)
	}
	fd, err := unix.Openat(pfd, base, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return fmt.Errorf("create %s: %w", rel, err)
	}
	defer unix.Close(fd)
	var n int64
	for {
		m, rerr := tr.Read(u.buf)
		if m > 0 {
			if err := writeAll(fd, u.buf[:m]); err != nil {
				return fmt.Errorf("write %s: %w", rel, err)
			}
			n += int64(m)
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			return fmt.Errorf("read %s from layer: %w", rel, rerr)
		}
	}
	// Ownership first: chown(2) clears setuid/setgid bits and security.capability, so the
	// mode and the capabilities go after it.
	if u.asRoot {
		if err := unix.Fchown(fd, hdr.Uid, hdr.Gid); err != nil {
			return fmt.Errorf("fchown %s: %w", rel, err)
		}
	}
	if err := unix.Fchmod(fd, uint32(hdr.Mode)&0o7777); err != nil {
		return fmt.Errorf("fchmod %s: %w", rel, err)
	}
	for name, value := range xattrs(hdr) {
		if !u.xattrAllowed(name, rel) {
			continue
		}
		if err := unix.Fsetxattr(fd, name, []byte(value), 0); err != nil {
			if err := u.xattrError(name, rel, err); err != nil {
				return err
			}
		}
	}
	ts := []unix.Timespec{unix.NsecToTimespec(hdr.AccessTime.UnixNano()), unix.NsecToTimespec(hdr.ModTime.UnixNano())}
	if hdr.AccessTime.IsZero() {
		ts[0] = ts[1]
	}
	if err := unix.UtimesNanoAt(fd, "", ts, unix.AT_EMPTY_PATH); err != nil {
		return fmt.Errorf("utimensat %s: %w", rel, err)
	}
	return nil
}

func writeAll(fd int, b []byte) error {
	for len(b) > 0 {
		n, err := unix.Write(fd, b)
		if err != nil {
			if errors.Is(err, unix.EINTR) {
				continue
			}
			return err
		}
		b = b[n:]
	}
	return nil
}

// hardlink links rel to an earlier entry of this layer. The target is resolved inside the
// root; one that climbs out, does not exist, or is a directory is refused. linkat(2) without
// AT_SYMLINK_FOLLOW links a symlink itself, never what it points to.
func (u *unpacker) hardlink(pfd int, base, rel string, hdr *tar.Header) error {
	target, err := snapshot.Clean(hdr.Linkname)
	if err != nil || target == "." {
		return fmt.Errorf("%w: hard link %q -> %q: target leaves the layer", ErrHostileLayer, hdr.Name, hdr.Linkname)
	}
	tdir, tbase := path.Split(target)
	tfd, err := u.root.OpenDir(strings.TrimSuffix(tdir, "/"), false)
	if err != nil {
		return fmt.Errorf("%w: hard link %q -> %q: target does not exist in the layer", ErrHostileLayer, hdr.Name, hdr.Linkname)
	}
	st, exists, err := snapshot.Lstat(tfd, tbase)
	if err != nil {
		return err
	}
	if !exists {
		return fmt.Errorf("%w: hard link %q -> %q: target does not exist in the layer", ErrHostileLayer, hdr.Name, hdr.Linkname)
	}
	if st.Mode&unix.S_IFMT == unix.S_IFDIR {
		return fmt.Errorf("%w: hard link %q -> %q: target is a directory", ErrHostileLayer, hdr.Name, hdr.Linkname)
	}
	if err := unix.Linkat(tfd, tbase, pfd, base, 0); err != nil {
		return fmt.Errorf("linkat %s -> %s: %w", rel, target, err)
	}
	return nil
}

// node makes a device node or fifo as the image says. Only root may (mknod(2) needs
// CAP_MKNOD); unprivileged unpacks skip them, as rootless docker does.
func (u *unpacker) node(pfd int, base, rel string, hdr *tar.Header) error {
	if !u.asRoot {
		u.log.Warn("skip device node: not root", "path", rel)
		return nil
	}
	kind := map[byte]uint32{tar.TypeChar: unix.S_IFCHR, tar.TypeBlock: unix.S_IFBLK, tar.TypeFifo: unix.S_IFIFO}[hdr.Typeflag]
	dev := int(unix.Mkdev(uint32(hdr.Devmajor), uint32(hdr.Devminor)))
	if err := unix.Mknodat(pfd, base, kind|0o600, dev); err != nil {
		return fmt.Errorf("mknodat %s: %w", rel, err)
	}
	if err := u.owner(pfd, base, rel, hdr); err != nil {
		return err
	}
	if err := unix.Fchmodat(pfd, base, uint32(hdr.Mode)&0o7777, 0); err != nil {
		return fmt.Errorf("fchmodat %s: %w", rel, err)
	}
	return setTimes(pfd, base, rel, hdr.ModTime)
}

// whiteout converts a ".wh." entry to overlayfs form: a 0/0 character device for a deleted
// name, trusted.overlay.opaque=y on the directory for an opaque marker.
func (u *unpacker) whiteout(dir, base string) error {
	pfd, err := u.root.OpenDir(dir, true)
	if err != nil {
		return fmt.Errorf("%w: whiteout in %q: %w", ErrHostileLayer, dir, err)
	}
	if base == opaqueMarker {
		if err := unix.Fsetxattr(pfd, "trusted.overlay.opaque", []byte("y"), 0); err != nil {
			return fmt.Errorf("mark %s opaque: setxattr trusted.overlay.opaque: %w", path.Join(dir, "."), err)
		}
		u.record(snapshot.Entry{Path: path.Join(dir, "."), Kind: snapshot.KindOpaque})
		return nil
	}
	name := strings.TrimPrefix(base, whiteoutPrefix)
	if name == "" || name == "." || name == ".." || strings.HasPrefix(name, whiteoutPrefix) {
		return fmt.Errorf("%w: whiteout %q names no file in its directory", ErrHostileLayer, path.Join(dir, base))
	}
	rel := path.Join(dir, name)
	if err := u.clear(pfd, rel, name, false); err != nil {
		return err
	}
	if err := unix.Mknodat(pfd, name, unix.S_IFCHR|0o000, 0); err != nil {
		return fmt.Errorf("whiteout %s: mknodat: %w", rel, err)
	}
	u.record(snapshot.Entry{Path: rel, Kind: snapshot.KindWhiteout})
	return nil
}

func (u *unpacker) owner(pfd int, base, rel string, hdr *tar.Header) error {
	if !u.asRoot {
		return nil
	}
	if err := unix.Fchownat(pfd, base, hdr.Uid, hdr.Gid, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("fchownat %s: %w", rel, err)
	}
	return nil
}

// xattrsAt sets a directory's xattrs (opened without following links).
func (u *unpacker) xattrsAt(pfd int, base, rel string, hdr *tar.Header) error {
	xs := xattrs(hdr)
	if len(xs) == 0 {
		return nil
	}
	fd, err := unix.Openat(pfd, base, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open %s: %w", rel, err)
	}
	defer unix.Close(fd)
	for name, value := range xs {
		if !u.xattrAllowed(name, rel) {
			continue
		}
		if err := unix.Fsetxattr(fd, name, []byte(value), 0); err != nil {
			if err := u.xattrError(name, rel, err); err != nil {
				return err
			}
		}
	}
	return nil
}

// xattrAllowed drops attributes a layer may not set: trusted.overlay.* would steer
// overlayfs itself (redirects, metacopy, fake whiteouts), so only the unpacker writes them.
func (u *unpacker) xattrAllowed(name, rel string) bool {
	if strings.HasPrefix(name, "trusted.overlay.") {
		u.log.Warn("drop overlay xattr from layer", "path", rel, "xattr", name)
		return false
	}
	if !u.asRoot && (strings.HasPrefix(name, "trusted.") || strings.HasPrefix(name, "security.")) {
		return false
	}
	return true
}

// xattrError decides whether a failed setxattr stops the unpack: a filesystem without xattr
// support loses them with a warning (as docker does), anything else fails.
func (u *unpacker) xattrError(name, rel string, err error) error {
	if errors.Is(err, unix.ENOTSUP) {
		u.log.Warn("xattr not supported here", "path", rel, "xattr", name)
		return nil
	}
	return fmt.Errorf("setxattr %s on %s: %w", name, rel, err)
}

// xattrs are the extended attributes a tar header carries as PAX "SCHILY.xattr." records.
func xattrs(hdr *tar.Header) map[string]string {
	var xs map[string]string
	for k, v := range hdr.PAXRecords {
		if name, ok := strings.CutPrefix(k, "SCHILY.xattr."); ok {
			if xs == nil {
				xs = map[string]string{}
			}
			xs[name] = v
		}
	}
	return xs
}

func setTimes(pfd int, base, rel string, mtime time.Time) error {
	ts := unix.NsecToTimespec(mtime.UnixNano())
	if err := unix.UtimesNanoAt(pfd, base, []unix.Timespec{ts, ts}, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("utimensat %s: %w", rel, err)
	}
	return nil
}

// finishDirs sets directory mtimes last: creating entries inside a directory changes its
// mtime, so setting it when the directory's own entry passes would not stick. (Setting a
// child's times does not touch its parent, so the order does not matter.)
func (u *unpacker) finishDirs() error {
	for rel, mtime := range u.dirTimes {
		if i, live := u.index[rel]; !live || u.entries[i].Kind != snapshot.KindDir {
			continue
		}
		dir, base := path.Split(rel)
		pfd, err := u.root.OpenDir(strings.TrimSuffix(dir, "/"), false)
		if err != nil {
			return err
		}
		if err := setTimes(pfd, base, rel, mtime); err != nil {
			return err
		}
	}
	return nil
}
