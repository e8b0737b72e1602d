#!/usr/bin/env bash
# Regenerates the README's screenshots from the real workbench: it builds glassbox, opens it
# in a private tmux server on a scratch root, builds the starter image (offline, from the
# host's busybox-static), runs a container, visits the main panes and turns each tmux capture
# (with colours: capture-pane -e) into an SVG with charmbracelet's freeze.
#
#   sudo screenshots/capture.sh            # writes screenshots/*.svg
#   sudo SHOTS_FORMAT=png SHOTS_DIR=/tmp/x screenshots/capture.sh   # PNGs elsewhere
#
# Needs root (the workbench runs containers), tmux, busybox-static, and Go (freeze is
# installed with `go install` when missing).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
out=${SHOTS_DIR:-$here}
format=${SHOTS_FORMAT:-svg}
[ "$(id -u)" = 0 ] || { echo "capture.sh: run as root" >&2; exit 1; }
command -v tmux >/dev/null || { echo "capture.sh: install tmux" >&2; exit 1; }
freeze=$(command -v freeze || true)
if [ -z "$freeze" ]; then
	GOFLAGS= go install github.com/charmbracelet/freeze@latest
	freeze=$(go env GOPATH)/bin/freeze
fi

work=$(mktemp -d /tmp/glassbox-shots.XXXXXX)
sock=glassbox-shots-$$
bin=${GLASSBOX_BIN:-$work/glassbox}
[ -n "${GLASSBOX_BIN:-}" ] || (cd "$repo" && go build -o "$bin" ./cmd/glassbox)
root=$work/root

cleanup() {
	tmux -L "$sock" kill-server 2>/dev/null || true
	# Containers the script ran go with the scratch root.
	for id in $("$bin" --root "$root" ps -aq 2>/dev/null || true); do
		"$bin" --root "$root" rm -f "$id" >/dev/null 2>&1 || true
	done
	rm -rf "$work"
}
trap cleanup EXIT

t() { tmux -L "$sock" "$@"; }
keys() { t send-keys -t shots "$@"; }
# wait_for TEXT: poll the screen until TEXT shows (30 s at most).
wait_for() {
	for _ in $(seq 300); do
		t capture-pane -p -t shots | grep -qF -- "$1" && return 0
		sleep 0.1
	done
	echo "capture.sh: the screen never showed '$1':" >&2
	t capture-pane -p -t shots >&2
	exit 1
}
# shot NAME: the screen as it is now, to $out/NAME.$format.
shot() {
	sleep 0.5
	t capture-pane -e -p -t shots >"$work/$1.ansi"
	# A font family rather than freeze's embedded font keeps each file near 20 kB.
	"$freeze" "$work/$1.ansi" -l ansi --window --font.family "JetBrains Mono, DejaVu Sans Mono, Menlo, monospace" \
		-o "$out/$1.$format" >/dev/null
	echo "wrote $out/$1.$format"
}

t new-session -d -x 120 -y 36 -s shots "env TERM=xterm-256color COLORTERM=truecolor $bin --root $root"
t set-option -g -t shots default-terminal tmux-256color >/dev/null
wait_for "kernel "
keys b
wait_for "built glassbox/starter:busybox"

if "$bin" run --help >/dev/null 2>&1; then
	# A container with some output in its log and a little life in it.
	keys r
	wait_for "Run a container"
	keys Tab Tab
	keys -l "sh -c 'echo hello from glassbox; while true; do date; sleep 2; done'"
	keys Enter
	wait_for "running"
	keys 1
	wait_for "Process chain"
	shot overview
	keys 2
	wait_for "of a core"
	sleep 3 # a few samples for the graphs
	shot cgroups
	keys 3
	wait_for "container upper directory"
	shot layers-container
	keys 4
	wait_for "PID namespace tree"
	shot namespaces
	keys 5
	wait_for "HOST PID"
	shot processes
	keys 6
	wait_for "hello from glassbox"
	shot logs
	keys 7
	wait_for "TOOK"
	shot trace
	# Network and Security are past the number keys: Config (9), then tab on.
	keys 9 Tab Tab
	wait_for "Routes"
	shot network
	keys Tab
	wait_for "Effective capabilities"
	shot security
	# A second container with a shell exec'd in it, in the Shell tab.
	keys r
	wait_for "Run a container"
	keys Enter
	wait_for "Containers 2"
	sleep 1 # the new container is selected once the list has it
	keys x
	wait_for "ctrl-p ctrl-q leave"
	keys -l "echo hello-from-pane; ls --color=always /; grep -E 'Name|Pid' /proc/self/status"
	keys Enter
	wait_for "PPid:"
	shot shell
	keys C-p C-q
	wait_for "r run container"
	# The host view: every namespace on the machine, other runtimes' containers labelled.
	keys H
	wait_for "Host namespaces"
	keys 1
	wait_for "PROCS"
	shot host
	# The Cgroups tab of the first namespace's lowest process (PID 1: the machine's own).
	keys 6
	wait_for "% of a core"
	sleep 3
	shot host-cgroups
	keys H
fi

keys i
wait_for "Images 1"
keys 2
wait_for "efficiency"
shot layers
keys '?'
wait_for "Global"
shot help
keys Escape q
