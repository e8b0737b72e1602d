package network

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"

	"github.com/glassbox/glassbox/internal/atomicfile"
)

// Defaults for Config's zero fields.
const (
	DefaultBridge = "glassbox0"
	DefaultTable  = "glassbox"
	DefaultMTU    = 1500
)

// DefaultSubnet rarely clashes: private space away from docker's 172.17.0.0/16, podman's
// 10.88.0.0/16 and the 192.168/16 most home routers hand out.
var DefaultSubnet = netip.MustParsePrefix("172.31.240.0/20")

// Config names the bridge network a Manager runs. The zero Config means the default bridge
// with the configuration recorded for it, or the defaults. A glassbox root keeps its choice in
// a file (ReadConfig, WriteConfig), so tests and users can run a bridge beside glassbox0.
type Config struct {
	Bridge string       `json:"bridge,omitempty"` // bridge device name, at most 15 bytes
	Subnet netip.Prefix `json:"subnet,omitzero"`  // IPv4 subnet; the bridge takes its first address, the gateway
	Table  string       `json:"table,omitempty"`  // nftables table (family ip) holding glassbox's NAT rules; default glassbox, or the bridge's name for another bridge
	MTU    int          `json:"mtu,omitempty"`    // bridge and veth MTU
	// NoForwarding leaves net.ipv4.ip_forward alone. Otherwise Setup turns it on, as docker and
	// podman do, so masqueraded traffic can leave the host; tests set it to write nothing global.
	NoForwarding bool `json:"noForwarding,omitempty"`
	// Firewall forces the NAT backend, "nftables" or "iptables"; empty picks nftables where the
	// kernel has it.
	Firewall string `json:"firewall,omitempty"`
}

func (c Config) withDefaults() Config {
	if c.Bridge == "" {
		c.Bridge = DefaultBridge
	}
	if !c.Subnet.IsValid() {
		c.Subnet = DefaultSubnet
	}
	c.Subnet = c.Subnet.Masked()
	if c.Table == "" {
		// Another bridge gets a table of its own, so removing one never takes the other's rules.
		c.Table = DefaultTable
		if c.Bridge != DefaultBridge {
			c.Table = c.Bridge
		}
	}
	if c.MTU == 0 {
		c.MTU = DefaultMTU
	}
	return c
}

func (c Config) validate() error {
	if len(c.Bridge) > unix.IFNAMSIZ-1 {
		return fmt.Errorf("bridge name %q is longer than %d bytes", c.Bridge, unix.IFNAMSIZ-1)
	}
	if !c.Subnet.Addr().Is4() || c.Subnet.Bits() > 30 || c.Subnet.Bits() < 8 {
		return fmt.Errorf("subnet %s: want an IPv4 prefix between /8 and /30", c.Subnet)
	}
	if c.MTU < 576 || c.MTU > 65535 {
		return fmt.Errorf("mtu %d out of range", c.MTU)
	}
	if c.Firewall != "" && c.Firewall != "nftables" && c.Firewall != "iptables" {
		return fmt.Errorf("firewall %q: want nftables or iptables", c.Firewall)
	}
	if len(c.Table) > 20 {
		return fmt.Errorf("nftables table name %q is longer than 20 bytes", c.Table)
	}
	return nil
}

// Gateway is the bridge's own address: the subnet's first host address.
func (c Config) Gateway() netip.Addr { return c.Subnet.Addr().Next() }

// DefaultStateDir holds the bridge networks' state. It is on /run, not under a glassbox root:
// the bridge, its addresses and the veths are the kernel's and die with a reboot, as /run's
// contents do, and one bridge is shared by every root on the machine, so its allocations must
// be too (two roots handing out the same address on glassbox0 would clash).
const DefaultStateDir = "/run/glassbox/network"

// Manager attaches containers to one bridge network. Its state (the configuration and each
// container's attachment) lives in dir/<bridge>.json; every change holds an exclusive flock on
// dir/lock (one for every bridge: a change takes milliseconds), so several glassbox processes
// (and roots) can share a bridge. The network namespaces the Manager makes are bind mounts
// under dir/netns.
type Manager struct {
	dir string
	log *slog.Logger
	cfg Config
	// fault, when set, is called after each kernel step of a setup ("netns", "veth"), so
	// tests can cut a setup off there (see SetFaultHook).
	fault func(step string)
}

// SetFaultHook makes setups call f after each kernel step; the engine's fault injection uses
// it to prove that a setup killed half-way leaves nothing gc cannot remove.
func (m *Manager) SetFaultHook(f func(step string)) { m.fault = f }

func (m *Manager) faultPoint(step string) {
	if m.fault != nil {
		m.fault(step)
	}
}

// Attachment is one container's place on the bridge, as recorded in the state file.
type Attachment struct {
	ID       string        `json:"id"`
	Name     string        `json:"name,omitempty"`
	Owner    string        `json:"owner,omitempty"` // the glassbox root the container belongs to
	IP       netip.Addr    `json:"ip,omitzero"`
	Prefix   int           `json:"prefix,omitempty"`
	Gateway  netip.Addr    `json:"gateway,omitzero"`
	Bridge   string        `json:"bridge"`
	HostVeth string        `json:"hostVeth,omitempty"` // host end of the veth pair, on the bridge
	Netns    string        `json:"netns"`              // the namespace path used at setup
	OwnNetns bool          `json:"ownNetns,omitempty"` // Netns is a bind mount the Manager made
	Joined   string        `json:"joined,omitempty"`   // container:NAME: the container whose namespace this one shares
	MTU      int           `json:"mtu,omitempty"`
	Ports    []PortMapping `json:"ports,omitempty"`
	// ProxyPid and ProxyStart name the loopback proxy process serving Ports (see SpawnProxy);
	// Teardown ends it.
	ProxyPid   int    `json:"proxyPid,omitempty"`
	ProxyStart uint64 `json:"proxyStart,omitempty"`

	// Listeners are the bound host ports (nil without Ports). Only Setup's return carries them:
	// the caller owns them and must Serve or Close them.
	Listeners *Ports `json:"-"`
}

type state struct {
	Config      Config                 `json:"config"`
	Last        netip.Addr             `json:"last"` // last address handed out; allocation goes round
	Attachments map[string]*Attachment `json:"attachments"`
}

// Open returns the Manager of cfg's bridge network, its state under dir (DefaultStateDir
// outside tests). A zero cfg means the default bridge with the configuration recorded for it
// (or the defaults); a different cfg replaces the recorded one only while no container is
// attached.
func Open(dir string, log *slog.Logger, cfg Config) (*Manager, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create network state directory: %w", err)
	}
	explicit := cfg != (Config{})
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	m := &Manager{dir: dir, log: log, cfg: cfg}
	err := m.locked(func(st *state) error {
		switch {
		case st.Config == (Config{}):
			st.Config = cfg
		case explicit && st.Config != cfg:
			if len(st.Attachments) > 0 {
				return fmt.Errorf("network configuration differs from %s's (bridge %s, subnet %s) while %d containers are attached",
					m.statePath(), st.Config.Bridge, st.Config.Subnet, len(st.Attachments))
			}
			// The old configuration's bridge (its address, its MTU) and rules go, so the new one
			// starts clean rather than beside them.
			if err := removeKernelState(st.Config); err != nil {
				return err
			}
			st.Config, st.Last = cfg, netip.Addr{}
		}
		m.cfg = st.Config
		return nil
	})
	if err != nil {
		return nil, err
	}
	return m, nil
}

// removeKernelState deletes a configuration's NAT table and bridge; missing ones are fine.
func removeKernelState(c Config) error {
	n, err := newNAT(c)
	if err != nil {
		return err
	}
	return errors.Join(n.removeTable(), removeBridge(c.Bridge))
}

// Config returns the network's configuration.
func (m *Manager) Config() Config { return m.cfg }

// locked runs fn with the state loaded under the exclusive lock and saves it afterwards, also
// when fn fails (a half-done setup must stay recorded so Teardown or GC can finish it).
func (m *Manager) locked(fn func(st *state) error) error {
	lock, err := os.OpenFile(filepath.Join(m.dir, "lock"), os.O_CREATE|os.O_RDWR|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return fmt.Errorf("open network lock: %w", err)
	}
	defer lock.Close()
	if err := unix.Flock(int(lock.Fd()), unix.LOCK_EX); err != nil {
		return fmt.Errorf("flock %s: %w", lock.Name(), err)
	}
	st, err := m.load()
	if err != nil {
		return err
	}
	before, _ := json.Marshal(st)
	ferr := fn(st)
	if after, _ := json.Marshal(st); bytes.Equal(before, after) {
		return ferr // a reader: nothing to write
	}
	if err := m.save(st); err != nil {
		return errors.Join(ferr, err)
	}
	return ferr
}

func (m *Manager) statePath() string { return filepath.Join(m.dir, m.cfg.Bridge+".json") }

// NetnsPath is where the Manager bind-mounts the network namespace it makes for a container.
func (m *Manager) NetnsPath(id string) string { return filepath.Join(m.dir, "netns", id) }

func (m *Manager) load() (*state, error) {
	st := &state{Attachments: map[string]*Attachment{}}
	b, err := os.ReadFile(m.statePath())
	if errors.Is(err, os.ErrNotExist) {
		return st, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read network state: %w", err)
	}
	if err := json.Unmarshal(b, st); err != nil {
		return nil, fmt.Errorf("parse network state %s: %w", m.statePath(), err)
	}
	if st.Attachments == nil {
		st.Attachments = map[string]*Attachment{}
	}
	return st, nil
}

// save writes the state atomically: a temporary file renamed over the old one.
func (m *Manager) save(st *state) error {
	if st.Config == (Config{}) && len(st.Attachments) == 0 {
		if err := os.Remove(m.statePath()); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("remove network state: %w", err)
		}
		return nil
	}
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	// Atomic, no fsync: the state lives on /run (DefaultStateDir) and ends with the boot.
	if err := atomicfile.WriteFile(m.statePath(), b, 0o600, atomicfile.Atomic); err != nil {
		return fmt.Errorf("write network state: %w", err)
	}
	return nil
}

// Attachments lists the containers attached now, from the state file.
func (m *Manager) Attachments() ([]Attachment, error) {
	var out []Attachment
	err := m.locked(func(st *state) error {
		for _, a := range st.Attachments {
			out = append(out, *a)
		}
		return nil
	})
	return out, err
}

// hostVethName is stable for a (bridge, container) pair, so a crashed setup's veth is found
// again by name, and distinct across bridges, so two networks never collide.
func hostVethName(bridge, id string) string {
	sum := sha256.Sum256([]byte(bridge + "\x00" + id))
	return "gb" + hex.EncodeToString(sum[:])[:11]
}

// allocate hands out the next free address after the last one, going round the subnet: not
// reusing an address at once keeps stale ARP and conntrack entries from hitting a newcomer.
func allocate(st *state) (netip.Addr, error) {
	sub := st.Config.Subnet
	gw := st.Config.Gateway()
	used := map[netip.Addr]bool{}
	for _, a := range st.Attachments {
		used[a.IP] = true
	}
	first := gw.Next()
	ip := first
	if st.Last.IsValid() && sub.Contains(st.Last) {
		ip = st.Last.Next()
	}
	size := 1 << (32 - sub.Bits())
	for range size {
		if !sub.Contains(ip) || isBroadcast(sub, ip) {
			ip = first
		}
		if !used[ip] {
			st.Last = ip
			return ip, nil
		}
		ip = ip.Next()
	}
	return netip.Addr{}, fmt.Errorf("subnet %s has no free address", sub)
}

func isBroadcast(sub netip.Prefix, ip netip.Addr) bool {
	b := ip.As4()
	hostBits := 32 - sub.Bits()
	v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	mask := uint32(1)<<hostBits - 1
	return v&mask == mask
}
