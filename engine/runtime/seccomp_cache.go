package runtime

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	goruntime "runtime"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/glassbox/glassbox/engine/runtime/nsenter"
	"github.com/glassbox/glassbox/engine/runtime/seccomp"
	"github.com/glassbox/glassbox/internal/atomicfile"
)

// seccompCacheDir is where compiled seccomp programs are kept, under the state directory: a
// name no container ID can take (checkID refuses a leading dot), so List passes it by.
const seccompCacheDir = ".seccomp"

// exportSeccomp compiles cfg as nsenter.ExportSeccomp does, through a cache of programs in
// dir (none when dir is ""). libseccomp takes tens of milliseconds to compile docker's default
// profile, more than the rest of a container's init, and every container of a machine asks
// for the same few profiles. An entry is named by a SHA-256 of the library version, the
// architecture and the profile's JSON, and holds that key, the program's length and the
// program, so an entry cut short (a power loss after a write without fsync) or written by
// another version is compiled again rather than loaded. The directory is glassbox's own
// (0700, under the runtime's state directory); a cache that cannot be written costs the next
// start time, nothing else.
func exportSeccomp(dir string, cfg *specs.LinuxSeccomp) ([]byte, error) {
	if dir == "" {
		return nsenter.ExportSeccomp(cfg)
	}
	profile, err := json.Marshal(cfg)
	if err != nil {
		return nsenter.ExportSeccomp(cfg)
	}
	h := sha256.New()
	h.Write([]byte(seccomp.Version() + "\x00" + goruntime.GOARCH + "\x00"))
	h.Write(profile)
	key := h.Sum(nil)
	path := filepath.Join(dir, hex.EncodeToString(key))
	if prog, ok := readSeccompEntry(path, key); ok {
		return prog, nil
	}
	prog, err := nsenter.ExportSeccomp(cfg)
	if err != nil || prog == nil {
		return prog, err
	}
	if os.MkdirAll(dir, 0o700) == nil {
		entry := append(binary.LittleEndian.AppendUint32(append([]byte(nil), key...), uint32(len(prog))), prog...)
		_ = atomicfile.WriteFile(path, entry, 0o600, atomicfile.Atomic)
	}
	return prog, nil
}

// readSeccompEntry returns the program in the cache entry at path when the entry is whole
// and made for key.
func readSeccompEntry(path string, key []byte) ([]byte, bool) {
	data, err := os.ReadFile(path)
	if err != nil || len(data) < len(key)+4 || !bytes.Equal(data[:len(key)], key) {
		return nil, false
	}
	n := binary.LittleEndian.Uint32(data[len(key):])
	prog := data[len(key)+4:]
	// The program is a u32 of flags and then 8-byte struct sock_filter entries.
	if uint64(len(prog)) != uint64(n) || len(prog) < 4 || (len(prog)-4)%8 != 0 {
		return nil, false
	}
	return prog, true
}
