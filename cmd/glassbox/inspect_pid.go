package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/glassbox/glassbox/inspect"
)

// withInspectPID gives `glassbox inspect` its --pid form: every kernel view of any process
// (namespaces, cgroups, security, mounts, the process tree of its PID namespace, network),
// whoever started it.
func withInspectPID(cmd *cobra.Command) *cobra.Command {
	var pid int
	cmd.Flags().IntVar(&pid, "pid", 0, "inspect any process by PID: namespaces, cgroups, capabilities, mounts, processes, network")
	cmd.Use = "inspect CONTAINER [CONTAINER...] | inspect --pid PID"
	args, run := cmd.Args, cmd.RunE
	cmd.Args = func(c *cobra.Command, a []string) error {
		if pid != 0 {
			if len(a) > 0 {
				return fmt.Errorf("inspect: give CONTAINERs or --pid, not both")
			}
			return nil
		}
		return args(c, a)
	}
	cmd.RunE = func(c *cobra.Command, a []string) error {
		if pid == 0 {
			return run(c, a)
		}
		v, err := inspect.Host{}.Inspect(pid)
		if err != nil {
			if inspect.Gone(err) {
				return fmt.Errorf("inspect --pid %d: no such process", pid)
			}
			return fmt.Errorf("inspect --pid %d: %w", pid, err)
		}
		return writeJSON(c.OutOrStdout(), []*inspect.ProcessView{v})
	}
	return cmd
}
