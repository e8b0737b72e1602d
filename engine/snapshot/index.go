package snapshot

// Index is what one layer's tar listed, as unpacked: one entry per path, the last entry for a
// path winning as it does on disk. Layer reports (added, changed, removed, wasted bytes, file
// trees) are computed from indexes without walking the layer directories.
type Index struct {
	Entries []Entry `json:"entries"`
	// Size is the bytes of the layer's regular files (hard links counted once).
	Size int64 `json:"size"`
	// TarBytes is the length of the uncompressed tar stream.
	TarBytes int64 `json:"tarBytes"`
}

// Entry kinds.
const (
	KindFile     = "f"
	KindDir      = "d"
	KindSymlink  = "l"
	KindHardlink = "h"
	KindChar     = "c"
	KindBlock    = "b"
	KindFifo     = "p"
	// KindWhiteout deletes Path from the layers below (a ".wh." entry in the tar).
	KindWhiteout = "w"
	// KindOpaque hides everything the layers below have under the directory Path.
	KindOpaque = "o"
)

// Entry is one path a layer listed.
type Entry struct {
	Path string `json:"p"`
	Kind string `json:"k"`
	Mode uint32 `json:"m,omitempty"`
	Size int64  `json:"s,omitempty"`
	Link string `json:"l,omitempty"`
}
