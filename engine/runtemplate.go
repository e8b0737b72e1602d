package engine

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/glassbox/glassbox/engine/runtime"
	"github.com/glassbox/glassbox/internal/atomicfile"
	"github.com/glassbox/glassbox/internal/records"
)

// Run templates. `glassbox run` costs two Go starts of a 25 MB binary (the CLI and the shim)
// more than the container's own work. After a Go create that a run asked for, the CLI has the
// engine keep here, under a hash of its exact command line, what the create made: config.json,
// the /etc files, the mount points, the overlay's lower directories, the record's fixed parts,
// with the container's ID, its short form and its name marked (the runtime keeps its own part:
// runtime/runcache_tmpl.go). The next run of the same command line is done by the binary's C
// constructor (nsenter/grun.c) with a C shim, before Go starts, while its key holds: the same
// binary, image store references and record, lower directories and host resolv.conf, boot,
// cgroups and uid. Anything else, or any failure before the container starts, and grun.c
// undoes what it did and Go runs the command as ever.
const runTemplateDir = ".runcache"

// Marks in a run template's strings (grun.c's): the runtime's two, and the name.
const (
	markID    = "\x01"
	markShort = "\x02"
	markName  = "\x03"
)

// Record types of a run template, grun.c's G_*: u32 type, u32 length, payload.
const (
	gVersion    = 1  // u32 runTemplateVersion
	gSignature  = 2  // the signature bytes (RunSignature.bytes)
	gStat       = 3  // runcache.go's rcStat payload: u32 what (0), u32 mode, i64 dev, ino, size, mtime, ctime, "path\0"
	gFile       = 4  // "path\0" then its exact contents
	gUID        = 5  // u32
	gFlags      = 6  // u32: gfAutoRemove, gfDetach, gfNamed
	gImage      = 7  // "image ID\0lease directory\0images/lock\0"
	gRecord     = 8  // JSON values: "image\0imageId\0command\0lowers\0options\0"
	gOutFile    = 9  // u32 mode, "name in the container directory\0" then the contents (marked)
	gLower      = 10 // "lower directory\0", in overlay order
	gMountPoint = 11 // u32 kind (0 directory, 1 file, 2 tmpfs), "path in the rootfs\0"
	gRuntime    = 12 // "the runtime's template file\0"
)

const runTemplateVersion = 1

const (
	gfAutoRemove = 1
	gfDetach     = 2
	gfNamed      = 4
)

// RunSignature is a run's command line as grun.c sees it: the root and the arguments after
// `run`, with the --name flag (at NamePos, -1 for none) taken out.
type RunSignature struct {
	Args    []string // after "run"
	NamePos int      // index in Args of "--name" or "--name=V"; -1
	Detach  bool
}

// bytes is the signature grun.c hashes and compares: root, each argument but the name flag
// and its value, each ending in NUL, then "@" and NamePos.
func (s RunSignature) bytes(root string) []byte {
	var b bytes.Buffer
	b.WriteString(root)
	b.WriteByte(0)
	for i := 0; i < len(s.Args); i++ {
		if i == s.NamePos {
			if s.Args[i] == "--name" {
				i++
			}
			continue
		}
		b.WriteString(s.Args[i])
		b.WriteByte(0)
	}
	b.WriteString("@" + strconv.Itoa(s.NamePos))
	return b.Bytes()
}

// KeepRunTemplate writes the run template of container id, just created by a run whose
// command line is sig, or says why it cannot. The caller checked that the run's flags are
// ones grun.c reproduces (no terminal, no stdin, no network but none, nothing read from the
// caller's environment or files).
func (e *Engine) KeepRunTemplate(id string, sig RunSignature) error {
	st, err := e.store()
	if err != nil {
		return err
	}
	rec, err := st.Get(id)
	if err != nil {
		return err
	}
	var opts CreateOptions
	if err := json.Unmarshal(rec.Options, &opts); err != nil {
		return err
	}
	if opts.Tty || opts.OpenStdin || opts.Network != "none" || opts.Userns != "" || len(opts.Publish) > 0 {
		return errors.New("a terminal, stdin, a network or a user namespace")
	}
	for _, s := range append([]string{e.root, rec.Name}, rec.Lowers...) {
		if strings.ContainsAny(s, markID+markShort+markName) || strings.ContainsRune(s, 0) {
			return fmt.Errorf("a mark byte in %q", s)
		}
	}
	dir := st.Dir(id)
	config, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if err != nil {
		return err
	}
	rtName, ok := runtime.TemplateName(config, id)
	if !ok {
		return errors.New("a mark byte in config.json")
	}
	var spec specs.Spec
	if err := json.Unmarshal(config, &spec); err != nil {
		return err
	}
	named := opts.Name != ""
	mark := runtime.WholeMarker(id)
	if named {
		// The name is in the record's options only; elsewhere it would be a coincidence the
		// marks must not make.
		if bytes.Contains(config, []byte(rec.Name)) {
			return errors.New("the container's name is in its config.json")
		}
	}

	var w records.Writer
	put := w.Put
	str := func(v ...string) []byte { return records.Strings(nil, v...) }
	u32 := records.U32
	putStat := func(path string) error {
		var s unix.Stat_t
		if err := unix.Stat(path, &s); err != nil {
			return err
		}
		put(gStat, records.Stat(0, &s), str(path))
		return nil
	}

	put(gVersion, u32(runTemplateVersion))
	put(gSignature, sig.bytes(e.root))
	imgHex := strings.TrimPrefix(rec.ImageID, "sha256:")
	images := filepath.Join(e.root, "images")
	for _, p := range []string{"/proc/self/exe", filepath.Join(images, "refs.json"),
		filepath.Join(images, "records", imgHex+".json"), "/etc/resolv.conf"} {
		if err := putStat(p); err != nil {
			return err
		}
	}
	// The mount points come from a mount-point layer on top of the image's (image.InitLayer):
	// the C run then makes none in the container's upper directory. Where one is ID-specific,
	// or the layer cannot be made, the C run makes them all as the Go create did.
	lowers, points := rec.Lowers, mountPointsOf(spec.Mounts)
	shared := len(points) > 0
	for _, p := range points {
		shared = shared && mark(p.rel) == p.rel
	}
	if shared {
		if dir, err := e.initLayer(rec.ImageID, rec.Lowers, points); err != nil {
			e.log.Debug("mount-point layer", "image", rec.ImageID, "err", err)
		} else {
			lowers, points = append([]string{dir}, rec.Lowers...), nil
		}
	}
	for _, l := range lowers {
		if err := putStat(l); err != nil {
			return err
		}
	}
	for _, p := range []string{"/proc/self/cgroup", "/proc/sys/kernel/random/boot_id"} {
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		put(gFile, str(p), data)
	}
	put(gUID, u32(uint32(os.Getuid())))
	var flags uint32
	if opts.AutoRemove {
		flags |= gfAutoRemove
	}
	if sig.Detach {
		flags |= gfDetach
	}
	if named {
		flags |= gfNamed
	}
	put(gFlags, u32(flags))
	put(gImage, str(rec.ImageID, filepath.Join(images, "leases", imgHex), filepath.Join(images, "lock")))

	jsonOf := func(v any) string {
		data, _ := json.Marshal(v)
		return string(data)
	}
	optsJSON := string(rec.Options)
	if named {
		o := opts
		o.Name = markName
		optsJSON = strings.ReplaceAll(jsonOf(o), `\u0003`, markName)
	}
	put(gRecord, str(jsonOf(rec.Image), jsonOf(rec.ImageID), jsonOf(rec.Command), jsonOf(lowers), optsJSON))
	for _, f := range []struct {
		name string
		mode uint32
	}{{"config.json", 0o600}, {"hostname", 0o644}, {"hosts", 0o644}, {"resolv.conf", 0o644}} {
		data, err := os.ReadFile(filepath.Join(dir, f.name))
		if err != nil {
			return err
		}
		if bytes.ContainsAny(data, markID+markShort+markName) {
			return fmt.Errorf("a mark byte in %s", f.name)
		}
		put(gOutFile, u32(f.mode), str(f.name), []byte(mark(string(data))))
	}
	for _, l := range lowers {
		put(gLower, str(l))
	}
	for _, p := range points {
		put(gMountPoint, u32(p.kind), str(mark(p.rel)))
	}
	if spec.Root != nil && spec.Root.Readonly {
		return errors.New("--read-only: the working directory is made at create") // not in grun.c
	}
	put(gRuntime, str(rtName))

	entry := w.Bytes()
	for i := 0; i+8 <= len(id); i++ {
		if bytes.Contains(entry, []byte(id[i:i+8])) {
			return fmt.Errorf("the ID's digits %s remain in the run template", id[i:i+8])
		}
	}
	tdir := filepath.Join(e.root, runTemplateDir)
	if err := os.Mkdir(tdir, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
		return err
	}
	h := fnv.New64a()
	h.Write(sig.bytes(e.root))
	if err := atomicfile.WriteFile(filepath.Join(tdir, fmt.Sprintf("grun-%016x", h.Sum64())), entry, 0o600, atomicfile.Atomic); err != nil {
		return err
	}
	runtime.TrimCache(tdir) // one template per command line ever run: the newest 128 stay
	return nil
}

// LogDebug logs to the engine's logger (--debug).
func (e *Engine) LogDebug(msg string, args ...any) { e.log.Debug(msg, args...) }
