#!/bin/sh
# record-proc.sh OUT [CONTAINER_PID]: records under OUT/proc /proc files of processes for the view tests (run as root).
#   proc/2      kthreadd: the host's namespaces (PID 1 may refuse to show its own)
#   proc/300    a shell made by `unshare --fork --pid --uts --ipc --net --mount-proc`: new
#               namespaces, host user namespace
#   proc/301    a child of 300 in the same namespaces
#   proc/400    CONTAINER_PID if given: a container's init (seccomp, dropped caps, overlay root)
#   proc/self/mountinfo  the cgroup mounts (Hierarchies)
# Namespace links are recorded as symlinks with the kernel's text ("net:[4026531840]").
set -eu
out=$1
rec() { # rec PID AS
	d=$out/proc/$2
	mkdir -p "$d/ns"
	for f in status cmdline cgroup uid_map gid_map mountinfo; do cat /proc/$1/$f >"$d/$f"; done
	for n in /proc/$1/ns/*; do ln -sf "$(readlink "$n")" "$d/ns/$(basename "$n")"; done
	# Record the pids the tests expect instead of this run's.
	sed -i "s/^\(PPid\|Pid\|Tgid\|NSpid\):\t$1\b/\1:\t$2/" "$d/status"
}
mkdir -p "$out/proc/self"
grep -E ' - cgroup2? ' /proc/self/mountinfo >"$out/proc/self/mountinfo"
rec 2 2
if [ -n "${2:-}" ]; then rec "$2" 400; fi
mark=inspect-record-$$
unshare --fork --pid --uts --ipc --net --mount-proc sh -c 'sleep 30 & wait' "$mark" &
sleep 0.5
sh=$(pgrep -f -x "sh -c sleep 30 & wait $mark")
child=$(pgrep -P "$sh" -x sleep)
rec "$sh" 300
rec "$child" 301
sed -i "s/^PPid:.*/PPid:\t300/" "$out/proc/301/status"
sed -i "s/^PPid:.*/PPid:\t299/" "$out/proc/300/status"
kill "$child" "$sh" 2>/dev/null || true
wait
