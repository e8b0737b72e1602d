#!/bin/sh
# record.sh OUT: records a hybrid tree (run as root on the development VM). It makes a cgroup
# "inspect-record-$$" in the cpu, cpuacct, memory, pids and blkio hierarchies and in cgroup2,
# each inside the cgroup this shell is in, runs a CPU burner and a shell holding ~30 MB in it,
# copies the statistics files, the workload's /proc/PID/cgroup (as proc/4242/cgroup) and the
# cgroup lines of mountinfo, then kills the workload and removes the cgroups it made.
set -eu
out=$1
name=inspect-record-$$
mkdir -p "$out/proc/self" "$out/proc/4242"
grep -E ' - cgroup2? ' /proc/self/mountinfo >"$out/proc/self/mountinfo"
dirs=""
for h in cpu cpuacct memory pids blkio unified; do
	own=$(awk -F: -v h=$h '($2==h) || (h=="unified" && $1=="0") {print $3}' /proc/self/cgroup)
	d=/sys/fs/cgroup/$h${own%/}/$name
	mkdir "$d"
	dirs="$dirs $d"
done
trap 'for d in $dirs; do rmdir "$d" 2>/dev/null || true; done' EXIT
sh -c 'for d in $0; do echo $$ >"$d/cgroup.procs"; done
	sh -c "while :; do :; done" &
	x=$(head -c 30000000 /dev/zero | tr "\0" a); sleep 30' "$dirs" &
work=$!
sleep 3
for d in $dirs; do
	rel=${d#/sys/fs/cgroup/}
	mkdir -p "$out/sys/fs/cgroup/$rel"
	for f in cpuacct.usage cpuacct.stat cpu.stat cpu.cfs_quota_us cpu.cfs_period_us cpu.max \
		memory.usage_in_bytes memory.limit_in_bytes memory.max_usage_in_bytes memory.stat \
		memory.kmem.usage_in_bytes memory.oom_control memory.failcnt pids.current pids.max \
		blkio.throttle.io_service_bytes_recursive blkio.throttle.io_serviced_recursive \
		cpu.pressure memory.pressure io.pressure memory.current memory.events; do
		if [ -f "$d/$f" ]; then cat "$d/$f" >"$out/sys/fs/cgroup/$rel/$f"; fi
	done
done
cat /proc/$work/cgroup >"$out/proc/4242/cgroup"
for d in $dirs; do
	for p in $(cat "$d/cgroup.procs"); do kill -9 "$p" 2>/dev/null || true; done
done
wait $work 2>/dev/null || true
sleep 0.2
