package cgroups

import (
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/link"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// applyDevices installs the spec's device rules: on v1 through the devices controller's
// devices.deny and devices.allow files, on v2 as an eBPF BPF_CGROUP_DEVICE program (the v2
// device controller has no files: cgroup-v2.rst "Device controller").
func (c *Cgroup) applyDevices(rules []specs.LinuxDeviceCgroup) error {
	if dir, _ := c.controllerDir("devices"); dir != "" {
		return c.applyDevicesV1(dir, rules)
	}
	dir := c.paths[unifiedKey]
	if dir == "" {
		return errors.New("no devices controller and no cgroup2 hierarchy here")
	}
	return c.AttachDeviceFilter(dir, rules)
}

// deviceRuleString is a rule in devices.allow's syntax: "type major:minor access"
// (Documentation/admin-guide/cgroup-v1/devices.rst).
func deviceRuleString(r specs.LinuxDeviceCgroup) (string, error) {
	typ := r.Type
	if typ == "" {
		typ = "a"
	}
	if typ != "a" && typ != "b" && typ != "c" {
		return "", fmt.Errorf("device rule type %q: want a, b or c", r.Type)
	}
	access := r.Access
	if access == "" {
		access = "rwm"
	}
	if strings.Trim(access, "rwm") != "" {
		return "", fmt.Errorf("device rule access %q: want letters of rwm", r.Access)
	}
	num := func(p *int64) string {
		if p == nil || *p < 0 {
			return "*"
		}
		return fmt.Sprint(*p)
	}
	if typ == "a" && (r.Major == nil || *r.Major < 0) && (r.Minor == nil || *r.Minor < 0) {
		return "a", nil
	}
	return fmt.Sprintf("%s %s:%s %s", typ, num(r.Major), num(r.Minor), access), nil
}

// applyDevicesV1 installs rules through devices.allow and devices.deny
// (Documentation/admin-guide/cgroup-v1/devices.rst). A cgroup that already denies by default
// and gets a deny-all-then-allow list (every runtime's shape) is brought to it by difference:
// the new exceptions are allowed first, then the stale ones denied, so a running container
// never loses a device it keeps. Otherwise "a" is written to devices.deny, which empties the
// allow list and makes deny the default, and the rules are replayed in order (a later rule for
// every device resets the default again, so the spec's order is kept).
func (c *Cgroup) applyDevicesV1(dir string, rules []specs.LinuxDeviceCgroup) error {
	var lines [][2]string // file, line
	for _, r := range rules {
		s, err := deviceRuleString(r)
		if err != nil {
			return err
		}
		file := "devices.deny"
		if r.Allow {
			file = "devices.allow"
		}
		if strings.HasPrefix(s, "a ") {
			// The kernel reads any line starting with "a" as every device, whatever
			// numbers follow (devcgroup_update_access): a numbered rule for both types
			// must be written once per type.
			lines = append(lines, [2]string{file, "b" + s[1:]}, [2]string{file, "c" + s[1:]})
			continue
		}
		lines = append(lines, [2]string{file, s})
	}
	if done, err := c.updateDevicesV1(dir, lines); done || err != nil {
		return err
	}
	if len(lines) == 0 || lines[0] != [2]string{"devices.deny", "a"} {
		if err := c.write(dir, "devices.deny", "a"); err != nil {
			return err
		}
	}
	// A line written again with no line of the other file between changes nothing: specs
	// list the default devices up to three times (docker's defaults, linux.devices' nodes).
	since := map[[2]string]bool{}
	last := ""
	for _, l := range lines {
		if l[0] != last {
			clear(since)
			last = l[0]
		}
		if since[l] {
			continue
		}
		since[l] = true
		if err := c.write(dir, l[0], l[1]); err != nil {
			return err
		}
	}
	return nil
}

// updateDevicesV1 applies a whitelist by difference from devices.list when it can, reporting
// whether it did.
func (c *Cgroup) updateDevicesV1(dir string, lines [][2]string) (bool, error) {
	if len(lines) == 0 || lines[0] != [2]string{"devices.deny", "a"} {
		return false, nil
	}
	want := map[string]bool{}
	devices := map[string]bool{}
	var order []string
	for _, l := range lines[1:] {
		if l[0] != "devices.allow" || l[1] == "a" {
			return false, nil
		}
		// The kernel merges the access of exceptions for one device into one line: two
		// rules for a device would not read back as written.
		dev := l[1][:strings.LastIndex(l[1], " ")]
		if devices[dev] && !want[l[1]] {
			return false, nil
		}
		devices[dev] = true
		if !want[l[1]] {
			order = append(order, l[1])
		}
		want[l[1]] = true
	}
	b, err := os.ReadFile(dir + "/devices.list")
	if err != nil {
		return false, nil
	}
	have := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if line == "a *:* rwm" {
			return false, nil // allow by default: only a reset makes it deny
		}
		if line != "" {
			have[line] = true
		}
	}
	for _, l := range order {
		if !have[l] {
			if err := c.write(dir, "devices.allow", l); err != nil {
				return true, err
			}
		}
	}
	var stale []string
	for l := range have {
		if !want[l] {
			stale = append(stale, l)
		}
	}
	sort.Strings(stale)
	for _, l := range stale {
		if err := c.write(dir, "devices.deny", l); err != nil {
			return true, err
		}
	}
	return true, nil
}

// BPF_CGROUP_DEVICE context (include/uapi/linux/bpf.h, struct bpf_cgroup_dev_ctx):
// access_type is (access << 16) | type, then major, then minor, each a u32.
const (
	bpfDevcgBlock = 1
	bpfDevcgChar  = 2
	bpfAccMknod   = 1
	bpfAccRead    = 2
	bpfAccWrite   = 4
)

// DeviceFilter compiles device rules into a BPF_CGROUP_DEVICE program, as runc's devicefilter
// does: the last matching rule decides, and a device no rule matches is denied. A rule matches
// when its type, major and minor match (absent or negative means any) and the access asked
// for is within the rule's access letters.
func DeviceFilter(rules []specs.LinuxDeviceCgroup) (asm.Instructions, error) {
	insns := asm.Instructions{
		asm.LoadMem(asm.R2, asm.R1, 0, asm.Word), // access_type
		asm.And.Imm32(asm.R2, 0xffff),            // R2 = type
		asm.LoadMem(asm.R3, asm.R1, 0, asm.Word),
		asm.RSh.Imm32(asm.R3, 16),                // R3 = access
		asm.LoadMem(asm.R4, asm.R1, 4, asm.Word), // R4 = major
		asm.LoadMem(asm.R5, asm.R1, 8, asm.Word), // R5 = minor
	}
	// pending is the label of the last rule's "no match" jumps; it goes on the next
	// instruction emitted.
	pending := ""
	for i := len(rules) - 1; i >= 0; i-- {
		r := rules[i]
		if _, err := deviceRuleString(r); err != nil {
			return nil, err
		}
		next := fmt.Sprintf("rule%d_next", i)
		var block asm.Instructions
		switch r.Type {
		case "b":
			block = append(block, asm.JNE.Imm(asm.R2, bpfDevcgBlock, next))
		case "c":
			block = append(block, asm.JNE.Imm(asm.R2, bpfDevcgChar, next))
		}
		access := r.Access
		if access == "" {
			access = "rwm"
		}
		var mask int32
		for _, a := range access {
			switch a {
			case 'm':
				mask |= bpfAccMknod
			case 'r':
				mask |= bpfAccRead
			case 'w':
				mask |= bpfAccWrite
			}
		}
		if mask != bpfAccMknod|bpfAccRead|bpfAccWrite {
			// Every bit asked for must be in the rule: (access & mask) == access.
			block = append(block,
				asm.Mov.Reg32(asm.R1, asm.R3),
				asm.And.Imm32(asm.R1, mask),
				asm.JNE.Reg(asm.R1, asm.R3, next))
		}
		if r.Major != nil && *r.Major >= 0 {
			block = append(block, asm.JNE.Imm(asm.R4, int32(*r.Major), next))
		}
		if r.Minor != nil && *r.Minor >= 0 {
			block = append(block, asm.JNE.Imm(asm.R5, int32(*r.Minor), next))
		}
		verdict := int32(0)
		if r.Allow {
			verdict = 1
		}
		block = append(block, asm.Mov.Imm(asm.R0, verdict), asm.Return())
		unconditional := len(block) == 2
		if pending != "" {
			block[0] = block[0].WithSymbol(pending)
		}
		insns = append(insns, block...)
		if unconditional {
			// A rule for every device and access decides everything the earlier rules
			// would have; the verifier rejects code after it as unreachable.
			return insns, nil
		}
		pending = next
	}
	deny := asm.Mov.Imm(asm.R0, 0)
	if pending != "" {
		deny = deny.WithSymbol(pending)
	}
	insns = append(insns, deny, asm.Return())
	return insns, nil
}

// AttachDeviceFilter loads the program DeviceFilter makes for rules and attaches it to the
// cgroup2 directory dir (BPF_PROG_ATTACH with BPF_F_ALLOW_MULTI, so the program stays after
// glassbox exits, as runc's does), then detaches the programs that were there before: an
// Update replaces the policy, never widens it for a moment. dir must be a cgroup glassbox made.
func (c *Cgroup) AttachDeviceFilter(dir string, rules []specs.LinuxDeviceCgroup) error {
	insns, err := DeviceFilter(rules)
	if err != nil {
		return err
	}
	done := c.cfg.Trace.Begin("cgroup", fmt.Sprintf("attach BPF_CGROUP_DEVICE program (%d instructions, %d rules) to %s", len(insns), len(rules), dir))
	err = attachDeviceFilter(dir, insns)
	done(err)
	return err
}

func attachDeviceFilter(dir string, insns asm.Instructions) error {
	prog, err := ebpf.NewProgram(&ebpf.ProgramSpec{
		Type:         ebpf.CGroupDevice,
		Instructions: insns,
		License:      "Apache-2.0",
	})
	if err != nil {
		return fmt.Errorf("load device program: %w", err)
	}
	defer prog.Close()
	fd, err := unix.Open(dir, unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open cgroup %s: %w", dir, &os.PathError{Op: "open", Path: dir, Err: err})
	}
	defer unix.Close(fd)
	old, err := link.QueryPrograms(link.QueryOptions{Target: fd, Attach: ebpf.AttachCGroupDevice})
	if err != nil {
		return fmt.Errorf("query device programs of %s: %w", dir, err)
	}
	if err := link.RawAttachProgram(link.RawAttachProgramOptions{
		Target: fd, Program: prog, Attach: ebpf.AttachCGroupDevice, Flags: unix.BPF_F_ALLOW_MULTI,
	}); err != nil {
		return fmt.Errorf("attach device program to %s: %w", dir, err)
	}
	for _, p := range old.Programs {
		oldProg, err := ebpf.NewProgramFromID(p.ID)
		if err != nil {
			return fmt.Errorf("detach old device program %d from %s: %w", p.ID, dir, err)
		}
		err = link.RawDetachProgram(link.RawDetachProgramOptions{
			Target: fd, Program: oldProg, Attach: ebpf.AttachCGroupDevice, Flags: unix.BPF_F_ALLOW_MULTI,
		})
		oldProg.Close()
		if err != nil {
			return fmt.Errorf("detach old device program %d from %s: %w", p.ID, dir, err)
		}
	}
	return nil
}
