#!/bin/sh
# record.sh DEST: records this machine's cgroup mounts, /proc/self/cgroup and a fresh child
# cgroup's file names per hierarchy, the unit tests' fake kernel. Only the files a parent is
# read for (cpuset.cpus, cpuset.mems, cgroup.controllers, cgroup.subtree_control, devices.list)
# keep their contents. Run as root; it makes and removes one cgroup gbrecord-$$ in each hierarchy.
set -eu
dest=$1; mkdir -p "$dest"
grep cgroup /proc/self/mountinfo > "$dest/mountinfo"
cat /proc/self/cgroup > "$dest/cgroup"
keep() { case $(basename "$1") in cpuset.cpus|cpuset.mems|cgroup.controllers|cgroup.subtree_control|devices.list) cat "$1";; esac; }
for h in /sys/fs/cgroup/*/; do
	h=${h%/}; name=$(basename "$h")
	[ "$name" = systemd ] && continue
	mkdir -p "$dest/root/$name" "$dest/template/$name"
	for f in "$h"/*; do [ -f "$f" ] && keep "$f" > "$dest/root/$name/$(basename "$f")"; done
	mkdir "$h/gbrecord-$$"
	for f in "$h/gbrecord-$$"/*; do keep "$f" > "$dest/template/$name/$(basename "$f")"; done
	rmdir "$h/gbrecord-$$"
done
