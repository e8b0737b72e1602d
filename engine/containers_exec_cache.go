package engine

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/glassbox/glassbox/engine/runtime/nsenter"
	"github.com/glassbox/glassbox/engine/runtime/seccomp"
	"github.com/glassbox/glassbox/internal/atomicfile"
)

// An exec needs a few fields of the container's config.json (the process's user, env, cwd,
// capabilities, no_new_privs, rlimits) and its seccomp filter compiled. Compiling docker's
// profile takes libseccomp tens of milliseconds, and decoding the 26 kB config.json costs a
// fresh glassbox process a millisecond or more (encoding/json builds its decoders by
// reflection on first use), more than the rest of the engine's part of an exec. So the first
// exec keeps both in ROOT/containers/ID/exec.cache, in a plain binary form, and the next ones
// read that. The cache is glassbox's own file (mode 0600, written whole by a rename), keyed by
// config.json's identity and times (inode, size, mtime, ctime: rewriting the file changes
// them) and the libseccomp version; any mismatch or damage means it is rebuilt from
// config.json.

const execCacheName = "exec.cache"

var execCacheMagic = []byte("glassbox exec cache 1\x00")

// execSettings are what an exec takes from the container's config.json.
type execSettings struct {
	process *specs.Process
	seccomp []byte // the compiled filter (nsenter.Security.SeccompProgram); nil: none
}

// loadExecSettings returns the settings of the bundle's config.json, from dir's cache when
// it is current.
func loadExecSettings(dir, configPath string) (execSettings, error) {
	var st unix.Stat_t
	if err := unix.Stat(configPath, &st); err != nil {
		return execSettings{}, fmt.Errorf("exec: the container's config: stat %s: %w", configPath, err)
	}
	key := fmt.Sprintf("%d:%d:%d:%d.%d:%d.%d:%s", st.Dev, st.Ino, st.Size, st.Mtim.Sec, st.Mtim.Nsec,
		st.Ctim.Sec, st.Ctim.Nsec, seccomp.Version())
	cachePath := filepath.Join(dir, execCacheName)
	if data, err := os.ReadFile(cachePath); err == nil {
		if s, err := decodeExecSettings(data, key); err == nil {
			return s, nil
		}
	}
	s, err := readExecSettings(configPath)
	if err != nil {
		return s, err
	}
	// Atomic, no fsync: a cache lost to a power cut fails its key check and is made again;
	// one not written at all costs the next exec time, nothing else.
	_ = atomicfile.WriteFile(cachePath, encodeExecSettings(s, key), 0o600, atomicfile.Atomic)
	return s, nil
}

// readExecSettings decodes config.json and compiles its seccomp filter.
func readExecSettings(configPath string) (execSettings, error) {
	data, err := os.ReadFile(configPath)
	if err != nil {
		return execSettings{}, fmt.Errorf("exec: read the container's config: %w", err)
	}
	var spec struct {
		Process *specs.Process `json:"process"`
		Linux   *struct {
			Seccomp *specs.LinuxSeccomp `json:"seccomp"`
		} `json:"linux"`
	}
	if err := json.Unmarshal(data, &spec); err != nil || spec.Process == nil {
		return execSettings{}, fmt.Errorf("exec: the container's config.json is not an OCI runtime spec: %v", err)
	}
	s := execSettings{process: spec.Process}
	if spec.Linux != nil && spec.Linux.Seccomp != nil {
		if s.seccomp, err = nsenter.ExportSeccomp(spec.Linux.Seccomp); err != nil {
			return execSettings{}, fmt.Errorf("exec: the container's seccomp profile: %w", err)
		}
	}
	return s, nil
}

// The encoding: the magic, the key, then the fields in order; a string or byte string is a
// uint32 length and its bytes, a list a uint32 count and its items, integers little-endian.

func encodeExecSettings(s execSettings, key string) []byte {
	var b []byte
	u32 := func(v uint32) { b = binary.LittleEndian.AppendUint32(b, v) }
	u64 := func(v uint64) { b = binary.LittleEndian.AppendUint64(b, v) }
	str := func(v string) { u32(uint32(len(v))); b = append(b, v...) }
	strs := func(v []string) {
		u32(uint32(len(v)))
		for _, x := range v {
			str(x)
		}
	}
	b = append(b, execCacheMagic...)
	str(key)
	p := s.process
	u32(p.User.UID)
	u32(p.User.GID)
	u32(uint32(len(p.User.AdditionalGids)))
	for _, g := range p.User.AdditionalGids {
		u32(g)
	}
	str(p.User.Username)
	strs(p.Env)
	str(p.Cwd)
	if p.NoNewPrivileges {
		u32(1)
	} else {
		u32(0)
	}
	if c := p.Capabilities; c != nil {
		u32(1)
		for _, list := range [][]string{c.Bounding, c.Effective, c.Permitted, c.Inheritable, c.Ambient} {
			strs(list)
		}
	} else {
		u32(0)
	}
	u32(uint32(len(p.Rlimits)))
	for _, rl := range p.Rlimits {
		str(rl.Type)
		u64(rl.Soft)
		u64(rl.Hard)
	}
	if s.seccomp != nil {
		u32(1)
		str(string(s.seccomp))
	} else {
		u32(0)
	}
	return b
}

var errExecCache = errors.New("exec cache: stale or damaged")

func decodeExecSettings(data []byte, key string) (execSettings, error) {
	if !bytes.HasPrefix(data, execCacheMagic) {
		return execSettings{}, errExecCache
	}
	r := cacheReader{b: data[len(execCacheMagic):]}
	if r.str() != key || r.err {
		return execSettings{}, errExecCache
	}
	p := &specs.Process{}
	p.User.UID, p.User.GID = r.u32(), r.u32()
	for n := r.count(4); n > 0; n-- {
		p.User.AdditionalGids = append(p.User.AdditionalGids, r.u32())
	}
	p.User.Username = r.str()
	p.Env = r.strs()
	p.Cwd = r.str()
	p.NoNewPrivileges = r.u32() == 1
	if r.u32() == 1 {
		c := &specs.LinuxCapabilities{}
		for _, list := range []*[]string{&c.Bounding, &c.Effective, &c.Permitted, &c.Inheritable, &c.Ambient} {
			*list = r.strs()
		}
		p.Capabilities = c
	}
	for n := r.count(20); n > 0; n-- {
		p.Rlimits = append(p.Rlimits, specs.POSIXRlimit{Type: r.str(), Soft: r.u64(), Hard: r.u64()})
	}
	s := execSettings{process: p}
	if r.u32() == 1 {
		s.seccomp = []byte(r.str())
	}
	if r.err || len(r.b) != 0 {
		return execSettings{}, errExecCache
	}
	return s, nil
}

// cacheReader reads the encoding; a read past the end sets err and yields zeros.
type cacheReader struct {
	b   []byte
	err bool
}

func (r *cacheReader) take(n int) []byte {
	if r.err || n < 0 || n > len(r.b) {
		r.err = true
		return nil
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}

func (r *cacheReader) u32() uint32 {
	if v := r.take(4); v != nil {
		return binary.LittleEndian.Uint32(v)
	}
	return 0
}

func (r *cacheReader) u64() uint64 {
	if v := r.take(8); v != nil {
		return binary.LittleEndian.Uint64(v)
	}
	return 0
}

func (r *cacheReader) str() string { return string(r.take(int(r.u32()))) }

// count reads a list's length, refusing one longer than the bytes left could hold at
// minSize bytes an item.
func (r *cacheReader) count(minSize int) int {
	n := int(r.u32())
	if n*minSize > len(r.b) {
		r.err = true
		return 0
	}
	return n
}

func (r *cacheReader) strs() []string {
	n := r.count(4)
	var v []string
	for ; n > 0; n-- {
		v = append(v, r.str())
	}
	return v
}
