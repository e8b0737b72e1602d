package runtime

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// RunHooks runs hooks in order, as runtime-spec config.md "POSIX-platform Hooks" says: each
// is hook.Path executed with hook.Args (args[0] included, like execv; the path alone when
// empty) and hook.Env, with the container's state JSON on its stdin. A hook that exits
// non-zero, cannot start, or outlives its timeout (seconds) stops the sequence and RunHooks
// returns an error naming it and quoting its output. Like runc, a hook with no env inherits
// the runtime's environment.
//
// Which hooks abort the operation is the caller's business: createRuntime, createContainer and
// startContainer failures fail the create or start, poststart and poststop ones are only logged.
func RunHooks(ctx context.Context, hooks []specs.Hook, state specs.State) error {
	if len(hooks) == 0 {
		return nil
	}
	stateJSON, err := json.Marshal(state)
	if err != nil {
		return fmt.Errorf("hook: marshal state: %w", err)
	}
	for i, h := range hooks {
		if err := runHook(ctx, h, stateJSON); err != nil {
			return fmt.Errorf("hook %d (%s): %w", i, h.Path, err)
		}
	}
	return nil
}

func runHook(ctx context.Context, h specs.Hook, stateJSON []byte) error {
	if h.Timeout != nil && *h.Timeout <= 0 {
		// config.md: "timeout ... MUST be greater than zero".
		return fmt.Errorf("timeout %d: must be greater than zero", *h.Timeout)
	}
	if h.Timeout != nil {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, time.Duration(*h.Timeout)*time.Second)
		defer cancel()
	}
	cmd := exec.CommandContext(ctx, h.Path)
	if len(h.Args) > 0 {
		cmd.Args = h.Args
	}
	cmd.Env = h.Env
	cmd.Stdin = bytes.NewReader(stateJSON)
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	// A hook that forks a daemon keeping our pipe open must not hang the runtime.
	cmd.WaitDelay = time.Second
	err := cmd.Run()
	if err == nil {
		return nil
	}
	if h.Timeout != nil && errors.Is(ctx.Err(), context.DeadlineExceeded) {
		err = fmt.Errorf("timed out after %ds", *h.Timeout)
	}
	if msg := strings.TrimSpace(out.String()); msg != "" {
		const max = 4096
		if len(msg) > max {
			msg = msg[:max] + "..."
		}
		return fmt.Errorf("%w: %s", err, msg)
	}
	return err
}

// checkHooks refuses at create what a hook would fail on only when its turn comes (a
// startContainer hook's after Start, a poststop one's at Delete, where its failure is only
// logged): config.md's "path MUST be absolute" and "timeout MUST be greater than zero".
func checkHooks(h *specs.Hooks) error {
	if h == nil {
		return nil
	}
	for _, kind := range []struct {
		name  string
		hooks []specs.Hook
	}{{"prestart", h.Prestart}, {"createRuntime", h.CreateRuntime}, {"createContainer", h.CreateContainer},
		{"startContainer", h.StartContainer}, {"poststart", h.Poststart}, {"poststop", h.Poststop}} {
		for i, hk := range kind.hooks {
			if !filepath.IsAbs(hk.Path) {
				return fmt.Errorf("hooks.%s[%d].path: %q is not absolute", kind.name, i, hk.Path)
			}
			if hk.Timeout != nil && *hk.Timeout <= 0 {
				return fmt.Errorf("hooks.%s[%d].timeout: %d is not greater than zero", kind.name, i, *hk.Timeout)
			}
		}
	}
	return nil
}

// Create, Start, Delete and the init run the spec's hooks through runHooks (runtime.go).
func init() { runHooks = RunHooks }
