// Package nsenter joins and creates namespaces from Go, where the kernel insists on a
// single-threaded caller: setns(2) of a mount or user namespace fails with EINVAL in a
// multi-threaded process, and a Go program has threads before main runs.
//
// It works as runc's libcontainer/nsenter does. Linking this package adds a C constructor
// (nsexec.c) that runs before the Go runtime on every start of the binary. Unless the binary
// was started by Command, it costs a few getenvs and a look at argv by each of the two fast
// paths, which return at once unless the command line is theirs: `glassbox exec`
// (execfast.c) and `glassbox oci run` of a bundle in the run cache (runc.c). Command passes
// a join config over a socket named by _GLASSBOX_NSENTER; then the constructor, still
// single-threaded:
//
//  1. joins the cgroups listed (writes to each cgroup.procs file),
//  2. opens every namespace path given, before joining anything,
//  3. joins the namespaces: user first, then ipc, uts, net, pid, mnt, cgroup, time (a
//     namespace the joined user namespace does not own goes before it: from inside, setns
//     would need privileges over its owner that the process no longer has); setns takes
//     descriptors, so joining mnt or user does not change what the later paths name,
//  4. creates the namespaces asked for (a new user namespace first, its maps written by the
//     caller),
//  5. after joining or creating a PID namespace, forks with CLONE_PARENT so that the child
//     really is in it and is the caller's own child; the intermediate process exits,
//  6. reports the PID of the process that goes on, closes the socket, marks every inherited
//     descriptor close-on-exec and returns: the Go runtime starts in that process, which runs
//     the re-exec entry named in its arguments.
//
// Two configs make the process go on in C to execve instead, with no Go runtime at all: an
// exec record (execc.c: the exec path's user, capabilities, limits, seccomp), and a container
// init's plan (Config.Init; initc.c runs the operations engine/runtime's plan.go made of a
// spec: mounts, pivot_root, masked paths, console, credentials, the exec fifo, execve).
//
// An error at any step reaches the caller naming the step and the namespace:
// "setns mnt of pid 1234: operation not permitted".
package nsenter

/*
#cgo CFLAGS: -Wall -Wextra -Wno-unused-parameter -O2
#cgo LDFLAGS: -static -Wl,--wrap=getaddrinfo -Wl,--wrap=getpwnam_r -Wl,--wrap=getpwuid_r
#cgo LDFLAGS: -Wl,--wrap=getgrnam_r -Wl,--wrap=getgrgid_r -Wl,--wrap=getgrouplist
#include <stdlib.h> // defines __GLIBC__ with glibc
extern void glassbox_nsexec(int argc, char **argv);
// glibc calls constructors with the program's arguments (as it calls main); elsewhere the
// exec fast path (execfast.c) is not taken.
void __attribute__((constructor)) glassbox_nsenter_init(int argc, char **argv, char **envp) {
#ifdef __GLIBC__
	glassbox_nsexec(argc, argv);
#else
	glassbox_nsexec(0, 0);
#endif
}
*/
import "C"

// envConfigFD names the descriptor the constructor reads its config from.
const envConfigFD = "_GLASSBOX_NSENTER"

// Binary is the program Command starts by default: the running glassbox binary. Cmd.Start
// executes it from a read-only detached mount of itself (binary.go), so that a process in
// the target cannot write it through /proc/PID/exe (CVE-2019-5736); the helper is also
// non-dumpable while it runs glassbox, which keeps out anyone without CAP_SYS_PTRACE.
func Binary() string { return "/proc/self/exe" }
