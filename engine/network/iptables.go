package network

import (
	"errors"
	"fmt"
	"net/netip"
	"os/exec"
	"strconv"
	"strings"
)

// iptablesNAT is the fallback where the kernel has no nf_tables: three chains of glassbox's own
// in iptables' nat table (<TABLE>-PRE, -OUT, -POST, from Config.Table upper-cased), entered by
// one jump rule each from PREROUTING, OUTPUT and POSTROUTING, as docker's DOCKER chain is. The
// rules are the nftables ones, with the same "glassbox:<id> ..." comments (-m comment), so
// teardown and inspect find them the same way. iptables -w waits for the xtables lock.
type iptablesNAT struct {
	bin string
	cfg Config
}

func newIptables(cfg Config) (*iptablesNAT, error) {
	bin, err := exec.LookPath("iptables")
	if err != nil {
		return nil, fmt.Errorf("iptables: %w", err)
	}
	return &iptablesNAT{bin: bin, cfg: cfg}, nil
}

func (t *iptablesNAT) String() string {
	return "iptables nat chains " + t.chain("*")
}

func (t *iptablesNAT) chain(suffix string) string {
	return strings.ToUpper(t.cfg.Table) + "-" + suffix
}

// chains maps each of glassbox's chains to the built-in chain that jumps to it and the jump's
// match: DNAT only for traffic to a local address (addrtype, as docker), and for the host's own
// connections not to 127.0.0.0/8 (the proxy's; see doc.go).
func (t *iptablesNAT) chains() []struct {
	name, from string
	match      []string
} {
	return []struct {
		name, from string
		match      []string
	}{
		{t.chain("PRE"), "PREROUTING", []string{"-m", "addrtype", "--dst-type", "LOCAL"}},
		{t.chain("OUT"), "OUTPUT", []string{"!", "-d", "127.0.0.0/8", "-m", "addrtype", "--dst-type", "LOCAL"}},
		{t.chain("POST"), "POSTROUTING", nil},
	}
}

func (t *iptablesNAT) run(args ...string) (string, error) {
	out, err := exec.Command(t.bin, append([]string{"-w", "-t", "nat"}, args...)...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("iptables -t nat %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return string(out), nil
}

func (t *iptablesNAT) ensure() error {
	for _, c := range t.chains() {
		if _, err := t.run("-S", c.name); err != nil {
			if _, err := t.run("-N", c.name); err != nil {
				return err
			}
		}
		jump := append(append([]string{c.from}, c.match...), "-j", c.name)
		if _, err := t.run(append([]string{"-C"}, jump...)...); err != nil {
			if _, err := t.run(append([]string{"-A"}, jump...)...); err != nil {
				return err
			}
		}
	}
	rules, err := t.bridgeRules()
	if err != nil || len(rules) == 2 {
		return err
	}
	sub := t.cfg.Subnet.String()
	post := t.chain("POST")
	if _, err := t.run("-A", post, "-s", sub, "!", "-o", t.cfg.Bridge, "-m", "comment", "--comment",
		commentPrefix+fmt.Sprintf("bridge %s masquerade %s", t.cfg.Bridge, sub), "-j", "MASQUERADE"); err != nil {
		return err
	}
	_, err = t.run("-A", post, "-s", sub, "-d", sub, "-m", "conntrack", "--ctstate", "DNAT", "-m", "comment", "--comment",
		commentPrefix+fmt.Sprintf("bridge %s hairpin %s", t.cfg.Bridge, sub), "-j", "MASQUERADE")
	return err
}

func (t *iptablesNAT) publish(id string, ip netip.Addr, ports []PortMapping) error {
	for _, p := range ports {
		if p.HostIP.IsLoopback() {
			continue
		}
		what := fmt.Sprintf("%s dport %d dnat to %s:%d", p.Protocol, p.HostPort, ip, p.ContainerPort)
		var dst []string
		if p.HostIP.IsValid() {
			what = "ip daddr " + p.HostIP.String() + " " + what
			dst = []string{"-d", p.HostIP.String()}
		}
		for _, c := range []string{t.chain("PRE"), t.chain("OUT")} {
			args := append(append([]string{"-A", c}, dst...), "-p", p.Protocol, "--dport", strconv.Itoa(int(p.HostPort)),
				"-m", "comment", "--comment", commentPrefix+id+" "+what,
				"-j", "DNAT", "--to-destination", netip.AddrPortFrom(ip, p.ContainerPort).String())
			if _, err := t.run(args...); err != nil {
				return err
			}
		}
	}
	return nil
}

func (t *iptablesNAT) containerRules(id string) ([]natRule, error) {
	var out []natRule
	for _, c := range t.chains() {
		rs, err := t.rulesWithPrefix(c.name, commentPrefix+id+" ")
		if err != nil {
			return nil, err
		}
		out = append(out, rs...)
	}
	return out, nil
}

func (t *iptablesNAT) bridgeRules() ([]natRule, error) {
	return t.rulesWithPrefix(t.chain("POST"), commentPrefix+"bridge "+t.cfg.Bridge+" ")
}

// rulesWithPrefix lists a chain's rules whose comment starts with prefix; Handle is the rule's
// number in the chain (what `iptables -D CHAIN N` takes). A missing chain has none.
func (t *iptablesNAT) rulesWithPrefix(chain, prefix string) ([]natRule, error) {
	out, err := t.run("-v", "-S", chain)
	if err != nil {
		if strings.Contains(out, "No chain") || strings.Contains(out, "does not exist") {
			return nil, nil
		}
		return nil, err
	}
	var rules []natRule
	n := 0
	for _, line := range strings.Split(out, "\n") {
		if !strings.HasPrefix(line, "-A ") {
			continue
		}
		n++
		comment := quotedAfter(line, "--comment ")
		if !strings.HasPrefix(comment, prefix) {
			continue
		}
		r := natRule{Chain: chain, Handle: uint64(n), Comment: comment}
		if i := strings.Index(line, " -c "); i >= 0 {
			fmt.Sscan(line[i+4:], &r.Packets, &r.Bytes)
		}
		rules = append(rules, r)
	}
	return rules, nil
}

// quotedAfter returns the (possibly double-quoted) word after key in an iptables -S line.
func quotedAfter(line, key string) string {
	i := strings.Index(line, key)
	if i < 0 {
		return ""
	}
	rest := line[i+len(key):]
	if strings.HasPrefix(rest, `"`) {
		if j := strings.Index(rest[1:], `"`); j >= 0 {
			return rest[1 : 1+j]
		}
		return rest[1:]
	}
	word, _, _ := strings.Cut(rest, " ")
	return word
}

func (t *iptablesNAT) unpublish(id string) error {
	for _, c := range t.chains() {
		rules, err := t.rulesWithPrefix(c.name, commentPrefix+id+" ")
		if err != nil {
			return err
		}
		// Highest number first: deleting a rule renumbers the ones after it.
		for i := len(rules) - 1; i >= 0; i-- {
			if _, err := t.run("-D", c.name, strconv.FormatUint(rules[i].Handle, 10)); err != nil {
				return err
			}
		}
	}
	return nil
}

func (t *iptablesNAT) removeTable() error {
	var errs []error
	for _, c := range t.chains() {
		jump := append(append([]string{c.from}, c.match...), "-j", c.name)
		for range 10 { // a jump added twice by a crashed ensure: remove every copy
			if _, err := t.run(append([]string{"-C"}, jump...)...); err != nil {
				break
			}
			if _, err := t.run(append([]string{"-D"}, jump...)...); err != nil {
				errs = append(errs, err)
				break
			}
		}
		if _, err := t.run("-S", c.name); err != nil {
			continue // no chain
		}
		if _, err := t.run("-F", c.name); err != nil {
			errs = append(errs, err)
		}
		if _, err := t.run("-X", c.name); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
