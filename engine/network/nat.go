package network

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"github.com/google/nftables/userdata"
	"golang.org/x/sys/unix"
)

// glassbox's nftables layout, all in one table (family ip) of its own:
//
//	prerouting  nat hook, dstnat priority: DNAT for published ports, traffic from outside or
//	            from containers
//	output      nat hook, dstnat priority: the same DNAT for the host's own connections to its
//	            non-loopback addresses (loopback is the proxy's; see doc.go)
//	postrouting nat hook, srcnat priority: masquerade what leaves the subnet off the bridge,
//	            and hairpin traffic a container sends to a published port on the same bridge
//
// Each rule's comment starts "glassbox:<container ID> " (or "glassbox:bridge " for the
// bridge's own rules): Teardown deletes rules by that comment and nothing else.
const (
	chainPrerouting  = "prerouting"
	chainOutput      = "output"
	chainPostrouting = "postrouting"
	commentPrefix    = "glassbox:"
)

// natTable is where a bridge's NAT rules live: an nftables table of glassbox's own, or, where
// the kernel has no nf_tables, chains of glassbox's own in iptables' nat table.
type natTable interface {
	// ensure makes the table (or chains) and the bridge's masquerade rules when missing.
	ensure() error
	// publish adds the DNAT rules of a container's published ports.
	publish(id string, ip netip.Addr, ports []PortMapping) error
	// containerRules and bridgeRules list rules with their live counters.
	containerRules(id string) ([]natRule, error)
	bridgeRules() ([]natRule, error)
	// unpublish deletes every rule of the container; none is fine.
	unpublish(id string) error
	// removeTable deletes everything glassbox made; missing is fine.
	removeTable() error
	// String names the table as its own tool lists it.
	String() string
}

// newNAT picks the backend: cfg.Firewall when set, else nftables when the kernel answers an
// nftables request, else iptables (as docker on a kernel without nf_tables).
func newNAT(cfg Config) (natTable, error) {
	switch cfg.Firewall {
	case "iptables":
		return newIptables(cfg)
	case "nftables":
		return newNftables(cfg)
	}
	n, err := newNftables(cfg)
	if err == nil {
		if _, err = n.conn.ListTablesOfFamily(nftables.TableFamilyIPv4); err == nil {
			return n, nil
		}
	}
	if ipt, ierr := newIptables(cfg); ierr == nil {
		return ipt, nil
	}
	return nil, fmt.Errorf("nftables: %w (and no iptables to fall back on)", err)
}

type nat struct {
	conn  *nftables.Conn
	table *nftables.Table
	cfg   Config
}

func newNftables(cfg Config) (*nat, error) {
	conn, err := nftables.New()
	if err != nil {
		return nil, fmt.Errorf("nftables: %w", err)
	}
	return &nat{conn: conn, cfg: cfg, table: &nftables.Table{Name: cfg.Table, Family: nftables.TableFamilyIPv4}}, nil
}

func (n *nat) String() string { return "nftables table ip " + n.cfg.Table }

func (n *nat) bridgeRules() ([]natRule, error) {
	return n.rulesWithPrefix(chainPostrouting, commentPrefix+"bridge "+n.cfg.Bridge+" ")
}

func (n *nat) chain(name string) *nftables.Chain {
	return &nftables.Chain{Name: name, Table: n.table}
}

// ensure creates the table, its three chains and the bridge's masquerade rules when missing.
// NEWTABLE and NEWCHAIN without NLM_F_EXCL leave existing ones as they are.
func (n *nat) ensure() error {
	// The common case, the table made by an earlier container: one dump, no transaction.
	if rules, err := n.rulesWithPrefix(chainPostrouting, commentPrefix+"bridge "+n.cfg.Bridge+" "); err == nil && len(rules) == 2 {
		return nil
	}
	n.conn.AddTable(n.table)
	hooks := []struct {
		name string
		hook *nftables.ChainHook
		prio *nftables.ChainPriority
	}{
		{chainPrerouting, nftables.ChainHookPrerouting, nftables.ChainPriorityNATDest},
		{chainOutput, nftables.ChainHookOutput, nftables.ChainPriorityNATDest},
		{chainPostrouting, nftables.ChainHookPostrouting, nftables.ChainPriorityNATSource},
	}
	for _, h := range hooks {
		n.conn.AddChain(&nftables.Chain{Name: h.name, Table: n.table, Type: nftables.ChainTypeNAT,
			Hooknum: h.hook, Priority: h.prio})
	}
	if err := n.conn.Flush(); err != nil {
		return fmt.Errorf("nftables: create table ip %s: %w", n.cfg.Table, err)
	}
	rules, err := n.rulesWithPrefix(chainPostrouting, commentPrefix+"bridge "+n.cfg.Bridge+" ")
	if err != nil {
		return err
	}
	if len(rules) > 0 {
		return nil
	}
	sub := n.cfg.Subnet
	// ip saddr SUBNET oifname != BRIDGE masquerade
	masq := concat(matchPrefix(12, sub), matchIfname(expr.MetaKeyOIFNAME, expr.CmpOpNeq, n.cfg.Bridge),
		[]expr.Any{&expr.Counter{}, &expr.Masq{}})
	n.addRule(chainPostrouting, masq, fmt.Sprintf("bridge %s masquerade %s", n.cfg.Bridge, sub))
	// ip saddr SUBNET ip daddr SUBNET ct status dnat masquerade: a container reaching a
	// published port of a neighbour (or itself) through a host address must see the reply
	// come back through the host, not straight over the bridge.
	hairpin := concat(matchPrefix(12, sub), matchPrefix(16, sub), []expr.Any{
		&expr.Ct{Register: 1, Key: expr.CtKeySTATUS},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4,
			Mask: binaryutil.NativeEndian.PutUint32(0x20 /* IPS_DST_NAT */), Xor: make([]byte, 4)},
		&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: make([]byte, 4)},
		&expr.Counter{}, &expr.Masq{},
	})
	n.addRule(chainPostrouting, hairpin, fmt.Sprintf("bridge %s hairpin %s", n.cfg.Bridge, sub))
	if err := n.conn.Flush(); err != nil {
		return fmt.Errorf("nftables: add masquerade for %s: %w", sub, err)
	}
	return nil
}

// publish adds the DNAT rules of a container's published ports in one transaction.
func (n *nat) publish(id string, ip netip.Addr, ports []PortMapping) error {
	if len(ports) == 0 {
		return nil
	}
	for _, p := range ports {
		if p.HostIP.IsLoopback() {
			continue // only the proxy can serve a loopback-only mapping
		}
		var dst []expr.Any
		if p.HostIP.IsValid() {
			dst = matchAddr(16, p.HostIP)
		} else {
			// fib daddr type local: any address of this host, as docker's DOCKER chain does.
			dst = []expr.Any{
				&expr.Fib{Register: 1, FlagDADDR: true, ResultADDRTYPE: true},
				&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binaryutil.NativeEndian.PutUint32(unix.RTN_LOCAL)},
			}
		}
		proto := byte(unix.IPPROTO_TCP)
		if p.Protocol == "udp" {
			proto = unix.IPPROTO_UDP
		}
		match := concat(dst, []expr.Any{
			&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{proto}},
			&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binaryutil.BigEndian.PutUint16(p.HostPort)},
		})
		dnat := []expr.Any{
			&expr.Counter{},
			&expr.Immediate{Register: 1, Data: ip.AsSlice()},
			&expr.Immediate{Register: 2, Data: binaryutil.BigEndian.PutUint16(p.ContainerPort)},
			&expr.NAT{Type: expr.NATTypeDestNAT, Family: unix.NFPROTO_IPV4, RegAddrMin: 1, RegProtoMin: 2, Specified: true},
		}
		what := fmt.Sprintf("%s dport %d dnat to %s:%d", p.Protocol, p.HostPort, ip, p.ContainerPort)
		if p.HostIP.IsValid() {
			what = "ip daddr " + p.HostIP.String() + " " + what
		}
		n.addRule(chainPrerouting, concat(match, dnat), id+" "+what)
		// The host's own connections: never to 127.0.0.0/8, whose packets the kernel will not
		// route to another host once rewritten (route_localnet is off).
		notLoopback := matchPrefixNeq(16, netip.MustParsePrefix("127.0.0.0/8"))
		n.addRule(chainOutput, concat(notLoopback, match, dnat), id+" "+what)
	}
	if err := n.conn.Flush(); err != nil {
		return fmt.Errorf("nftables: publish ports of %s: %w", id, err)
	}
	return nil
}

func (n *nat) addRule(chain string, exprs []expr.Any, comment string) {
	n.conn.AddRule(&nftables.Rule{Table: n.table, Chain: n.chain(chain), Exprs: exprs,
		UserData: userdata.AppendString(nil, userdata.TypeComment, commentPrefix+comment)})
}

// natRule is one of glassbox's rules as the kernel holds it.
type natRule struct {
	Chain   string `json:"chain"`
	Handle  uint64 `json:"handle"`
	Comment string `json:"comment"`
	Packets uint64 `json:"packets"`
	Bytes   uint64 `json:"bytes"`
}

// rulesWithPrefix lists the rules of one chain whose comment starts with prefix. A missing
// table or chain has no rules.
func (n *nat) rulesWithPrefix(chain, prefix string) ([]natRule, error) {
	rules, err := n.conn.GetRules(n.table, n.chain(chain))
	if err != nil {
		if isNotFound(err) {
			return nil, nil
		}
		return nil, fmt.Errorf("nftables: list chain %s of table ip %s: %w", chain, n.cfg.Table, err)
	}
	var out []natRule
	for _, r := range rules {
		c, _ := userdata.GetString(r.UserData, userdata.TypeComment)
		if !strings.HasPrefix(c, prefix) {
			continue
		}
		nr := natRule{Chain: chain, Handle: r.Handle, Comment: c}
		for _, e := range r.Exprs {
			if ctr, ok := e.(*expr.Counter); ok {
				nr.Packets, nr.Bytes = ctr.Packets, ctr.Bytes
			}
		}
		out = append(out, nr)
	}
	return out, nil
}

// containerRules lists a container's rules in every chain.
func (n *nat) containerRules(id string) ([]natRule, error) {
	var out []natRule
	for _, c := range []string{chainPrerouting, chainOutput, chainPostrouting} {
		rs, err := n.rulesWithPrefix(c, commentPrefix+id+" ")
		if err != nil {
			return nil, err
		}
		out = append(out, rs...)
	}
	return out, nil
}

// unpublish deletes every rule of the container; none is fine.
func (n *nat) unpublish(id string) error {
	rules, err := n.containerRules(id)
	if err != nil || len(rules) == 0 {
		return err
	}
	for _, r := range rules {
		if err := n.conn.DelRule(&nftables.Rule{Table: n.table, Chain: n.chain(r.Chain), Handle: r.Handle}); err != nil {
			return fmt.Errorf("nftables: delete rule %d of %s: %w", r.Handle, id, err)
		}
	}
	if err := n.conn.Flush(); err != nil {
		return fmt.Errorf("nftables: delete rules of %s: %w", id, err)
	}
	return nil
}

// removeTable deletes glassbox's table with every rule in it; a missing table is fine.
func (n *nat) removeTable() error {
	n.conn.DelTable(n.table)
	if err := n.conn.Flush(); err != nil && !isNotFound(err) {
		return fmt.Errorf("nftables: delete table ip %s: %w", n.cfg.Table, err)
	}
	return nil
}

func isNotFound(err error) bool {
	return err != nil && (strings.Contains(err.Error(), "no such file or directory") || strings.Contains(err.Error(), "ENOENT"))
}

func concat(parts ...[]expr.Any) []expr.Any {
	var out []expr.Any
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// matchPrefix: the IPv4 header's address at offset (12 source, 16 destination) is in pfx.
func matchPrefix(offset uint32, pfx netip.Prefix) []expr.Any {
	return prefixCmp(offset, pfx, expr.CmpOpEq)
}

func matchPrefixNeq(offset uint32, pfx netip.Prefix) []expr.Any {
	return prefixCmp(offset, pfx, expr.CmpOpNeq)
}

func prefixCmp(offset uint32, pfx netip.Prefix, op expr.CmpOp) []expr.Any {
	mask := ipNet(pfx.Addr(), pfx.Bits()).Mask
	return []expr.Any{
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: offset, Len: 4},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: mask, Xor: make([]byte, 4)},
		&expr.Cmp{Op: op, Register: 1, Data: pfx.Masked().Addr().AsSlice()},
	}
}

func matchAddr(offset uint32, ip netip.Addr) []expr.Any {
	return []expr.Any{
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: offset, Len: 4},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: ip.AsSlice()},
	}
}

func matchIfname(key expr.MetaKey, op expr.CmpOp, name string) []expr.Any {
	b := make([]byte, unix.IFNAMSIZ)
	copy(b, name)
	return []expr.Any{
		&expr.Meta{Key: key, Register: 1},
		&expr.Cmp{Op: op, Register: 1, Data: b},
	}
}
