package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"syscall"

	"github.com/glassbox/glassbox/engine/snapshot"
)

// DiffOptions chooses what DiffWith lists.
type DiffOptions struct {
	// All keeps the mount points glassbox made in the container's upper directory for the
	// container's own mounts (/proc, /sys, /dev and those under them, /etc/hostname, /etc/hosts,
	// /etc/resolv.conf, -v and --tmpfs targets) when its image lacked them. Docker makes its
	// own in a separate init layer, below the container's, so its diff never shows them.
	All bool
}

// Diff lists what the container changed, without the mount points glassbox made (DiffWith).
func (e *Engine) Diff(ctx context.Context, ref string) ([]Change, error) {
	return e.DiffWith(ctx, ref, DiffOptions{})
}

// DiffWith lists what the container changed, from its upper directory: a whiteout (a 0:0
// character device, overlayfs(5)) is a deletion, a path also in a lower layer a change,
// anything else an addition. Unless opts.All, the mount points the runtime made there for
// the container's mounts are left out, and so are the directories that hold nothing else.
func (e *Engine) DiffWith(ctx context.Context, ref string, opts DiffOptions) ([]Change, error) {
	st, id, err := e.lookup(ref)
	if err != nil {
		return nil, err
	}
	rec, err := st.Get(id)
	if err != nil {
		return nil, err
	}
	entries, err := walkUpper(st.Upper(id), rec.Lowers)
	if err != nil {
		return nil, err
	}
	if !opts.All {
		dsts, err := mountPoints(filepath.Join(st.Bundle(id), "config.json"))
		if err != nil {
			return nil, err
		}
		layers := append([]string{st.Upper(id)}, rec.Lowers...)
		points := map[string]bool{}
		for _, d := range dsts {
			points[resolveInRootfs(layers, d)] = true
		}
		entries = withoutMountPoints(entries, points)
	}
	out := make([]Change, len(entries))
	for i, en := range entries {
		out[i] = en.Change
	}
	return out, nil
}

// upperEntry is one path in the upper directory, with what the lower layers hold there.
type upperEntry struct {
	Change
	upper fs.FileInfo
	lower fs.FileInfo // the topmost lower layer's entry; nil for an addition or deletion
}

// walkUpper reads the upper directory into changes sorted by path.
func walkUpper(upper string, lowers []string) ([]upperEntry, error) {
	var out []upperEntry
	err := filepath.WalkDir(upper, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == upper {
			return err
		}
		rel := "/" + strings.TrimPrefix(p, upper+"/")
		fi, err := d.Info()
		if err != nil {
			return err
		}
		if isWhiteout(fi) {
			out = append(out, upperEntry{Change: Change{Kind: "D", Path: rel}, upper: fi})
			return nil
		}
		en := upperEntry{Change: Change{Kind: "A", Path: rel}, upper: fi}
		if en.lower = lowerEntry(upper, lowers, rel); en.lower != nil {
			en.Kind = "C"
		}
		out = append(out, en)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("walk upper directory %s: %w", upper, err)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out, nil
}

// lowerEntry is what the image shows at rel under the container's upper directory: the
// topmost lower layer's entry there (lowers run topmost first, as overlayfs's lowerdir), nil
// when none has it or a layer above hides it (overlayfs(5)): a whiteout at rel or at a
// directory on the way, something else than a directory on the way, or an opaque directory on
// the way (trusted.overlay.opaque=y), which hides what the layers below hold under it. The
// upper directory's own opaque directories count too: a directory the container removed and
// made again holds only additions.
func lowerEntry(upper string, lowers []string, rel string) fs.FileInfo {
	var ancestors []string
	for d := path.Dir(rel); d != "/" && d != "."; d = path.Dir(d) {
		ancestors = append(ancestors, d)
	}
	for i, l := range append([]string{upper}, lowers...) {
		opaque := false
		for _, a := range ancestors {
			fi, err := os.Lstat(filepath.Join(l, a))
			if err != nil {
				continue
			}
			if isWhiteout(fi) || !fi.IsDir() {
				return nil
			}
			opaque = opaque || snapshot.IsOpaque(filepath.Join(l, a))
		}
		if i > 0 {
			if fi, err := os.Lstat(filepath.Join(l, rel)); err == nil {
				if isWhiteout(fi) {
					return nil
				}
				return fi
			}
		}
		if opaque {
			return nil
		}
	}
	return nil
}

// isWhiteout: overlayfs(5) marks a deletion with a 0:0 character device.
func isWhiteout(fi fs.FileInfo) bool {
	if fi.Mode()&fs.ModeCharDevice == 0 {
		return false
	}
	st, ok := fi.Sys().(*syscall.Stat_t) // what os.Lstat gives
	return ok && st.Rdev == 0
}

// mountPoints reads the destinations of the container's mounts from its OCI config.json:
// the runtime creates each one missing from the rootfs (a directory, or an empty file for a
// file bind mount such as /etc/hostname) and the overlay puts it in the upper directory. A
// container without a config.json never reached its runtime: it has none.
func mountPoints(configPath string) ([]string, error) {
	data, err := os.ReadFile(configPath)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read the container's mounts: %w", err)
	}
	var spec struct {
		Mounts []struct {
			Destination string `json:"destination"`
		} `json:"mounts"`
	}
	if err := json.Unmarshal(data, &spec); err != nil {
		return nil, fmt.Errorf("read the container's mounts from %s: %w", configPath, err)
	}
	var points []string
	for _, m := range spec.Mounts {
		if path.IsAbs(m.Destination) {
			points = append(points, path.Clean(m.Destination))
		}
	}
	return points, nil
}

// resolveInRootfs is where the runtime made mount point p: it follows the symlinks on the way
// (and p's own), inside the container's root as the runtime's secure join does, so that
// -v X:/var/run/x lands in /run/x when the image's /var/run is a link to /run. The layers
// are read as the overlay reads them: the upper directory, then the lowers, topmost first.
func resolveInRootfs(layers []string, p string) string {
	const maxLinks = 40 // path_resolution(7)'s limit
	done, rest := "/", strings.Split(strings.TrimPrefix(path.Clean(p), "/"), "/")
	for links := 0; len(rest) > 0; {
		next := path.Join(done, rest[0]) // ".." stops at "/", as in a chroot
		rest = rest[1:]
		target, isLink := symlinkIn(layers, next)
		if !isLink {
			done = next
			continue
		}
		if links++; links > maxLinks {
			return path.Clean(p) // a loop: the runtime refused it and made nothing
		}
		if path.IsAbs(target) {
			done = "/"
		}
		rest = append(strings.Split(strings.Trim(target, "/"), "/"), rest...)
	}
	return done
}

// symlinkIn returns the target of rel when the topmost layer holding it has a symlink there.
func symlinkIn(layers []string, rel string) (string, bool) {
	for _, l := range layers {
		fi, err := os.Lstat(filepath.Join(l, rel))
		if err != nil {
			continue
		}
		if fi.Mode()&fs.ModeSymlink == 0 {
			return "", false // a whiteout, a directory or a file hides the layers below
		}
		target, err := os.Readlink(filepath.Join(l, rel))
		return target, err == nil
	}
	return "", false
}

// withoutMountPoints leaves out the entries that only the runtime's mount points account for:
// a mount point it added (an empty directory, or an empty file for a file bind mount), and a
// directory on the way to one that was added or copied up for it (same mode and owner as in
// the image: a copy-up keeps them, a chmod or chown would not), as long as nothing the
// container made lies under either. A mount hides what is beneath it, so the container
// itself can only put something there by unmounting first, and then it shows.
func withoutMountPoints(entries []upperEntry, points map[string]bool) []upperEntry {
	if len(points) == 0 {
		return entries
	}
	onTheWay := map[string]bool{}
	for p := range points {
		for d := path.Dir(p); d != "/"; d = path.Dir(d) {
			onTheWay[d] = true
		}
	}
	// Deepest first, so a directory is judged after everything under it.
	order := make([]int, len(entries))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool {
		return strings.Count(entries[order[a]].Path, "/") > strings.Count(entries[order[b]].Path, "/")
	})
	hidden := make([]bool, len(entries))
	shownUnder := map[string]bool{} // directories with a shown entry below them
	for _, i := range order {
		en := entries[i]
		if !shownUnder[en.Path] && madeForMount(en, points[en.Path], onTheWay[en.Path]) {
			hidden[i] = true
			continue
		}
		for d := path.Dir(en.Path); d != "/"; d = path.Dir(d) {
			shownUnder[d] = true
		}
	}
	var kept []upperEntry
	for i, en := range entries {
		if !hidden[i] {
			kept = append(kept, en)
		}
	}
	return kept
}

// madeForMount says whether en, with nothing shown under it, is the runtime's own doing: a
// mount point it made, or a directory it made or copied up to make one below.
func madeForMount(en upperEntry, point, onTheWay bool) bool {
	isDir := en.upper.IsDir()
	switch {
	case en.Kind == "A" && point:
		return isDir || (en.upper.Mode().IsRegular() && en.upper.Size() == 0)
	case en.Kind == "A" && onTheWay:
		return isDir
	case en.Kind == "C" && (point || onTheWay):
		return isDir && en.lower.IsDir() && sameOwnerAndMode(en.upper, en.lower)
	}
	return false
}

func sameOwnerAndMode(a, b fs.FileInfo) bool {
	sa, okA := a.Sys().(*syscall.Stat_t)
	sb, okB := b.Sys().(*syscall.Stat_t)
	return okA && okB && sa.Mode == sb.Mode && sa.Uid == sb.Uid && sa.Gid == sb.Gid
}
