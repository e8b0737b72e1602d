package network

import (
	"context"
	"errors"
	"fmt"
	"net/netip"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// Request asks for one container's attachment to the bridge.
type Request struct {
	ID    string // container ID: the key of the attachment and of its NAT rules
	Name  string // container name, for inspect and /etc/hosts
	Owner string // the glassbox root the container belongs to: GC only touches its own
	// NetnsPath is the container's network namespace (a bind mount or /proc/PID/ns/net), or Pid
	// a process inside it. With neither, Setup makes a namespace of its own at NetnsPath(ID).
	NetnsPath string
	Pid       int
	Ports     []PortMapping
}

// Setup attaches the container's network namespace to the bridge: it binds the published
// host ports (a port in use fails here, before anything changes), allocates an address,
// makes the namespace when asked, creates the veth pair, configures eth0 and the default route
// inside, and adds the NAT rules. On failure it undoes what it did. The returned Attachment's
// Listeners hold the bound ports; the caller must Serve or Close them.
func (m *Manager) Setup(ctx context.Context, req Request) (Attachment, error) {
	if req.ID == "" {
		return Attachment{}, errors.New("network setup: empty container ID")
	}
	ports, err := Bind(req.Ports)
	if err != nil {
		return Attachment{}, fmt.Errorf("network setup for %s: %w", short(req.ID), err)
	}
	var att Attachment
	err = m.locked(func(st *state) error {
		if _, ok := st.Attachments[req.ID]; ok {
			return fmt.Errorf("container %s is already attached to %s", req.ID, m.cfg.Bridge)
		}
		ip, err := allocate(st)
		if err != nil {
			return err
		}
		a := &Attachment{ID: req.ID, Name: req.Name, Owner: req.Owner, IP: ip, Prefix: m.cfg.Subnet.Bits(),
			Gateway: m.cfg.Gateway(), Bridge: m.cfg.Bridge, HostVeth: hostVethName(m.cfg.Bridge, req.ID),
			MTU: m.cfg.MTU, Ports: req.Ports}
		switch {
		case req.NetnsPath != "":
			a.Netns = req.NetnsPath
		case req.Pid > 0:
			a.Netns = fmt.Sprintf("/proc/%d/ns/net", req.Pid)
		default:
			a.Netns, a.OwnNetns = m.NetnsPath(req.ID), true
		}
		// Recorded on disk before the kernel is touched: a crash part-way leaves a record that
		// GC or Teardown finishes; a failure here is undone below.
		st.Attachments[req.ID] = a
		if err := m.save(st); err != nil {
			delete(st.Attachments, req.ID)
			return err
		}
		if err := m.attach(a); err != nil {
			if uerr := m.detach(a); uerr != nil {
				m.log.Warn("undo failed network setup", "id", req.ID, "err", uerr)
				return errors.Join(err, uerr)
			}
			delete(st.Attachments, req.ID)
			return err
		}
		att = *a
		return nil
	})
	if err != nil {
		ports.Close()
		return Attachment{}, fmt.Errorf("network setup for %s: %w", short(req.ID), err)
	}
	if ctx.Err() != nil {
		ports.Close()
		m.Teardown(context.WithoutCancel(ctx), req.ID)
		return Attachment{}, ctx.Err()
	}
	att.Listeners = ports
	m.log.Debug("network attached", "id", req.ID, "ip", att.IP, "veth", att.HostVeth, "ports", len(req.Ports))
	return att, nil
}

// Join gives container req.ID the network namespace of container target, whose namespace is at
// targetNetns (--network container:NAME): a bind mount of its own at NetnsPath(req.ID) keeps
// the namespace for as long as this container exists. The attachment has no address or veth.
func (m *Manager) Join(ctx context.Context, req Request, target, targetNetns string) (Attachment, error) {
	var att Attachment
	err := m.locked(func(st *state) error {
		if _, ok := st.Attachments[req.ID]; ok {
			return fmt.Errorf("container %s is already attached to %s", req.ID, m.cfg.Bridge)
		}
		a := &Attachment{ID: req.ID, Name: req.Name, Owner: req.Owner, Bridge: m.cfg.Bridge,
			Netns: m.NetnsPath(req.ID), OwnNetns: true, Joined: target}
		if t, ok := st.Attachments[target]; ok && t.IP.IsValid() {
			a.IP, a.Prefix, a.Gateway, a.MTU = t.IP, t.Prefix, t.Gateway, t.MTU
		}
		st.Attachments[req.ID] = a
		if err := m.save(st); err != nil {
			delete(st.Attachments, req.ID)
			return err
		}
		if err := bindNetns(targetNetns, a.Netns); err != nil {
			delete(st.Attachments, req.ID)
			return err
		}
		att = *a
		return nil
	})
	if err != nil {
		return Attachment{}, fmt.Errorf("join the network of %s: %w", short(target), err)
	}
	return att, nil
}

// Attachment returns a container's attachment, if it has one.
func (m *Manager) Attachment(id string) (Attachment, bool, error) {
	var a Attachment
	var ok bool
	err := m.locked(func(st *state) error {
		if p, found := st.Attachments[id]; found {
			a, ok = *p, true
		}
		return nil
	})
	return a, ok, err
}

func short(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

// attach is the kernel half of Setup: the namespace when the Manager makes it, bridge, veth,
// the namespace's side, NAT.
func (m *Manager) attach(a *Attachment) error {
	if a.OwnNetns {
		if err := createNetns(a.Netns); err != nil {
			return err
		}
		m.faultPoint("netns")
	}
	ns, err := netns.GetFromPath(a.Netns)
	if err != nil {
		return fmt.Errorf("open network namespace %s: %w", a.Netns, err)
	}
	defer ns.Close()
	br, err := ensureBridge(m.cfg)
	if err != nil {
		return err
	}
	a.MTU = br.Attrs().MTU
	if !m.cfg.NoForwarding {
		if changed, err := enableForwarding(); err != nil {
			return err
		} else if changed {
			m.log.Info("enabled net.ipv4.ip_forward for masquerade")
		}
	}
	n, err := newNAT(m.cfg)
	if err != nil {
		return err
	}
	if err := n.ensure(); err != nil {
		return err
	}
	if err := createVeth(a, br, ns); err != nil {
		return err
	}
	m.faultPoint("veth")
	// Hairpin lets a container reach its own published port through a host address: the
	// bridge sends the DNATed packet back out of the port it came in on.
	if veth, err := netlink.LinkByName(a.HostVeth); err == nil {
		if err := netlink.LinkSetHairpin(veth, true); err != nil {
			return fmt.Errorf("set hairpin on %s: %w", a.HostVeth, err)
		}
	}
	if err := configureContainerSide(a, ns); err != nil {
		return err
	}
	return n.publish(a.ID, a.IP, a.Ports)
}

// detach removes what attach (and SpawnProxy) made for one container, whatever part of it
// exists: the proxy, the veth pair, the NAT rules, the namespace's bind mount.
func (m *Manager) detach(a *Attachment) error {
	var errs []error
	stopProxy(a.ProxyPid, a.ProxyStart)
	if a.HostVeth != "" {
		errs = append(errs, deleteVeth(a.HostVeth))
	}
	// Only published ports have rules of the container's own; a record without a bridge
	// address (a sweep after a crash lost it) may have some.
	if a.Joined == "" && (len(a.Ports) > 0 || !a.IP.IsValid()) {
		n, err := newNAT(m.cfg)
		if err != nil {
			errs = append(errs, err)
		} else {
			errs = append(errs, n.unpublish(a.ID))
		}
	}
	if a.OwnNetns {
		errs = append(errs, removeNetns(a.Netns))
	}
	return errors.Join(errs...)
}

// Teardown removes the container's veth pair, its NAT rules and its address allocation. A
// container that is not attached is not an error, so rm, --rm and gc may all call it.
func (m *Manager) Teardown(ctx context.Context, id string) error {
	return m.locked(func(st *state) error {
		a, ok := st.Attachments[id]
		if !ok {
			// Nothing recorded; still sweep rules, a veth and a namespace a crash may have left.
			return m.detach(&Attachment{ID: id, HostVeth: hostVethName(m.cfg.Bridge, id),
				Netns: m.NetnsPath(id), OwnNetns: true})
		}
		if err := m.detach(a); err != nil {
			return fmt.Errorf("network teardown of %s: %w", id, err)
		}
		delete(st.Attachments, id)
		m.log.Debug("network detached", "id", id, "ip", a.IP)
		return nil
	})
}

// GC tears down every attachment of owner whose container live reports gone, and returns their
// IDs. Other roots' containers on the same bridge are left alone.
func (m *Manager) GC(ctx context.Context, owner string, live func(id string) bool) ([]string, error) {
	atts, err := m.Attachments()
	if err != nil {
		return nil, err
	}
	var removed []string
	var errs []error
	for _, a := range atts {
		if ctx.Err() != nil {
			return removed, ctx.Err()
		}
		if a.Owner != owner || live(a.ID) {
			continue
		}
		if err := m.Teardown(ctx, a.ID); err != nil {
			errs = append(errs, err)
			continue
		}
		removed = append(removed, a.ID)
	}
	return removed, errors.Join(errs...)
}

// Remove deletes the bridge, glassbox's nftables table and the state, once no container is
// attached: what `glassbox network rm` and tests' cleanup call.
func (m *Manager) Remove(ctx context.Context) error {
	return m.locked(func(st *state) error {
		if len(st.Attachments) > 0 {
			return fmt.Errorf("network %s still has %d containers attached", m.cfg.Bridge, len(st.Attachments))
		}
		if err := removeKernelState(m.cfg); err != nil {
			return err
		}
		// Nothing is attached and the kernel holds nothing of this network any more: a zero
		// state makes save remove the state file.
		st.Config, st.Last = Config{}, netip.Addr{}
		return nil
	})
}

// Claim makes container id the owner of its published host ports as it starts (its caller
// has just bound them, so no running container holds them): DNAT rules that stopped
// containers keep for the same ports go, and id's own rules are put back, so traffic to a
// host address reaches the container that answers on 127.0.0.1 too. Docker binds ports at
// start for the same reason; here the rules outlive a stop, so a start re-takes them.
func (m *Manager) Claim(id string) error {
	return m.locked(func(st *state) error {
		a, ok := st.Attachments[id]
		if !ok || len(a.Ports) == 0 {
			return nil
		}
		n, err := newNAT(m.cfg)
		if err != nil {
			return err
		}
		for _, o := range st.Attachments {
			if o.ID == id || o.Joined != "" || len(o.Ports) == 0 {
				continue
			}
			var keep []PortMapping
			overlap := false
			for _, p := range o.Ports {
				if portsOverlap(p, a.Ports) {
					overlap = true
				} else {
					keep = append(keep, p)
				}
			}
			if !overlap {
				continue
			}
			m.log.Debug("published port moves", "from", o.ID, "to", id)
			if err := n.unpublish(o.ID); err != nil {
				return err
			}
			if err := n.publish(o.ID, o.IP, keep); err != nil {
				return err
			}
		}
		if err := n.unpublish(id); err != nil {
			return err
		}
		return n.publish(id, a.IP, a.Ports)
	})
}

// portsOverlap says whether p takes a host port of one of ps: same protocol and port, and
// host addresses that meet (unset means every address).
func portsOverlap(p PortMapping, ps []PortMapping) bool {
	for _, q := range ps {
		if p.Protocol == q.Protocol && p.HostPort == q.HostPort &&
			(!p.HostIP.IsValid() || !q.HostIP.IsValid() || p.HostIP == q.HostIP) {
			return true
		}
	}
	return false
}
