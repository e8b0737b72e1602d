package main

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/spf13/cobra"

	"github.com/glassbox/glassbox/engine"
	"github.com/glassbox/glassbox/engine/network"
)

// `glassbox network`: the bridge network's configuration, its containers, and one container's
// network as the kernel has it. The loopback port proxy is a hidden re-exec entry.
func init() {
	addCommand("network", newNetworkCmd)
	registerReexec(network.ProxyReexec, network.ProxyMain)
}

func newNetworkCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "network",
		Short: "Show and configure the bridge network: inspect, ls, config, rm",
	}
	cmd.AddCommand(newNetworkInspectCmd(g), newNetworkLsCmd(g), newNetworkConfigCmd(g), newNetworkRmCmd(g))
	return cmd
}

func newNetworkInspectCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "inspect CONTAINER",
		Short: "Show a container's interfaces, routes, veth peer on the host, the bridge and its NAT rules",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := engine.Open(engine.Options{Root: g.root, Log: g.log})
			if err != nil {
				return err
			}
			rep, err := e.NetworkInspect(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if g.format == "json" {
				return writeJSON(cmd.OutOrStdout(), rep)
			}
			return rep.Format(cmd.OutOrStdout())
		},
	}
}

func newNetworkLsCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:     "ls",
		Aliases: []string{"list"},
		Short:   "List this root's containers on the bridge: address, host veth, published ports",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := engine.Open(engine.Options{Root: g.root, Log: g.log})
			if err != nil {
				return err
			}
			cfg, atts, err := e.Networks(cmd.Context())
			if err != nil {
				return err
			}
			l := listing{header: []string{"CONTAINER ID", "NAME", "ADDRESS", "HOST VETH", "BRIDGE", "PORTS"},
				json: map[string]any{"config": cfg, "attachments": atts}}
			for _, a := range atts {
				var ports []string
				for _, p := range a.Ports {
					ports = append(ports, p.String())
				}
				addr := "-"
				if a.IP.IsValid() {
					addr = fmt.Sprintf("%s/%d", a.IP, a.Prefix)
				}
				veth := a.HostVeth
				if a.Joined != "" {
					veth = "container:" + a.Joined[:min(12, len(a.Joined))]
				}
				l.rows = append(l.rows, []string{a.ID[:min(12, len(a.ID))], a.Name, addr, veth, a.Bridge, strings.Join(ports, ", ")})
			}
			if g.format != "json" {
				fmt.Fprintf(cmd.OutOrStdout(), "bridge %s  subnet %s  gateway %s  mtu %d  nftables table ip %s\n\n",
					cfg.Bridge, cfg.Subnet, cfg.Gateway(), cfg.MTU, cfg.Table)
			}
			return g.printListing(cmd.OutOrStdout(), l)
		},
	}
}

func newNetworkConfigCmd(g *globals) *cobra.Command {
	var bridge, subnet, table, firewall string
	var mtu int
	var noForwarding bool
	cmd := &cobra.Command{
		Use:   "config [--bridge NAME] [--subnet CIDR] [--mtu N] [--table NAME] [--firewall nftables|iptables]",
		Short: "Show or set this root's bridge network (changes only while no container is attached)",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := engine.Open(engine.Options{Root: g.root, Log: g.log})
			if err != nil {
				return err
			}
			cfg, _, err := e.Networks(cmd.Context())
			if err != nil {
				return err
			}
			if cmd.Flags().NFlag() > 0 {
				if cmd.Flags().Changed("bridge") {
					cfg = network.Config{Bridge: bridge} // another bridge: its own defaults
				}
				if subnet != "" {
					p, err := netip.ParsePrefix(subnet)
					if err != nil {
						return fmt.Errorf("--subnet %q: %w", subnet, err)
					}
					cfg.Subnet = p
				}
				if table != "" {
					cfg.Table = table
				}
				if mtu != 0 {
					cfg.MTU = mtu
				}
				if cmd.Flags().Changed("firewall") {
					cfg.Firewall = firewall
				}
				if cmd.Flags().Changed("no-forwarding") {
					cfg.NoForwarding = noForwarding
				}
				if cfg, err = e.ConfigureNetwork(cmd.Context(), cfg); err != nil {
					return err
				}
			}
			if g.format == "json" {
				return writeJSON(cmd.OutOrStdout(), cfg)
			}
			fw := cfg.Firewall
			if fw == "" {
				fw = "nftables, iptables where the kernel has no nf_tables"
			}
			fmt.Fprintf(cmd.OutOrStdout(), "bridge    %s\nsubnet    %s\ngateway   %s\nmtu       %d\ntable     %s\nfirewall  %s\nip_forward turned on: %v\n",
				cfg.Bridge, cfg.Subnet, cfg.Gateway(), cfg.MTU, cfg.Table, fw, !cfg.NoForwarding)
			return nil
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&bridge, "bridge", "", "bridge device name (default glassbox0)")
	fs.StringVar(&subnet, "subnet", "", "IPv4 subnet; the bridge takes its first address (default 172.31.240.0/20)")
	fs.StringVar(&table, "table", "", "nftables table (family ip) for the NAT rules (default glassbox; another bridge: its name)")
	fs.IntVar(&mtu, "mtu", 0, "bridge and veth MTU (default 1500)")
	fs.StringVar(&firewall, "firewall", "", "NAT backend: nftables or iptables (default: nftables where the kernel has it)")
	fs.BoolVar(&noForwarding, "no-forwarding", false, "leave net.ipv4.ip_forward alone (containers then reach only the host)")
	return cmd
}

func newNetworkRmCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "rm",
		Short: "Delete this root's bridge, its nftables table and state, once no container is attached",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := engine.Open(engine.Options{Root: g.root, Log: g.log})
			if err != nil {
				return err
			}
			return e.RemoveNetwork(cmd.Context())
		},
	}
}
