package inspect

import (
	"fmt"
	"os"
	"strings"

	"github.com/moby/sys/mountinfo"
)

// Mount is one line of /proc/PID/mountinfo (proc(5)), with an overlay's layers split out.
type Mount struct {
	ID         int      `json:"id"`
	Parent     int      `json:"parent"`
	Major      int      `json:"major"`
	Minor      int      `json:"minor"`
	Root       string   `json:"root"`
	Mountpoint string   `json:"mountpoint"`
	Options    string   `json:"options"`
	Optional   string   `json:"optional,omitempty"` // shared:N, master:N...
	FSType     string   `json:"fstype"`
	Source     string   `json:"source"`
	SuperOpts  string   `json:"superOptions"`
	Overlay    *Overlay `json:"overlay,omitempty"`
}

// Overlay is an overlayfs mount's directories (Documentation/filesystems/overlayfs.rst):
// lowerdir top first, as the kernel stacks them.
type Overlay struct {
	LowerDirs []string `json:"lowerDirs"`
	UpperDir  string   `json:"upperDir,omitempty"`
	WorkDir   string   `json:"workDir,omitempty"`
}

// Mounts reads pid's mount table: what it sees in its own mount namespace, mount points
// relative to its root.
func (h Host) Mounts(pid int) ([]Mount, error) {
	f, err := os.Open(h.procPath(pid, "mountinfo"))
	if err != nil {
		if gone(err) {
			return nil, fmt.Errorf("open /proc/%d/mountinfo: %w", pid, ErrGone)
		}
		return nil, fmt.Errorf("open /proc/%d/mountinfo: %w", pid, err)
	}
	defer f.Close()
	infos, err := mountinfo.GetMountsFromReader(f, nil)
	if err != nil {
		return nil, fmt.Errorf("parse /proc/%d/mountinfo: %w", pid, err)
	}
	out := make([]Mount, 0, len(infos))
	for _, m := range infos {
		mt := Mount{ID: m.ID, Parent: m.Parent, Major: m.Major, Minor: m.Minor, Root: m.Root,
			Mountpoint: m.Mountpoint, Options: m.Options, Optional: m.Optional, FSType: m.FSType,
			Source: m.Source, SuperOpts: m.VFSOptions}
		if m.FSType == "overlay" {
			mt.Overlay = parseOverlay(m.VFSOptions)
		}
		out = append(out, mt)
	}
	return out, nil
}

// parseOverlay splits overlay's super options. The kernel shows commas and backslashes in
// paths escaped with a backslash (ovl_show_options uses seq_show_option), and separates
// lowerdirs with ':' (escaped as "\:" within a path).
func parseOverlay(opts string) *Overlay {
	o := &Overlay{}
	for _, opt := range splitEscaped(opts, ',') {
		k, v, _ := strings.Cut(opt, "=")
		switch k {
		case "lowerdir":
			for _, d := range splitEscaped(v, ':') {
				o.LowerDirs = append(o.LowerDirs, unescapeBackslash(d))
			}
		case "lowerdir+", "datadir+": // fsconfig's one-layer-per-option form (Linux 6.8)
			o.LowerDirs = append(o.LowerDirs, unescapeBackslash(v))
		case "upperdir":
			o.UpperDir = unescapeBackslash(v)
		case "workdir":
			o.WorkDir = unescapeBackslash(v)
		}
	}
	return o
}

// splitEscaped splits s at sep where sep is not preceded by a backslash escape.
func splitEscaped(s string, sep byte) []string {
	var out []string
	start := 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case sep:
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}

func unescapeBackslash(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			i++
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
