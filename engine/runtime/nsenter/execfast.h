// The exec fast path (execfast.c, execfast_run.c): `glassbox exec` run to the end in the
// constructor of the CLI process itself, from a record the Go exec left in the container's
// directory (ROOT/containers/ID/exec.fast, execfast.go), so that a common exec never starts
// the Go runtime. Whatever it does not understand or cannot check, it leaves to Go, with
// nothing changed.
#ifndef GLASSBOX_EXECFAST_H
#define GLASSBOX_EXECFAST_H

#include <limits.h>
#include <stdint.h>

#include "execc.h"

#define FAST_MAX_ENV 64
#define FAST_MAX_CGROUPS 32

// Record types of exec.fast beyond REC_CGROUP (2) and REC_EXEC* (execc.h).
enum {
	FAST_KEY = 100,		// struct fast_key
	FAST_ID = 101,		// "id\0"
	FAST_NAME = 102,	// "name\0"
	FAST_IMAGE = 103,	// "image\0"
	FAST_PROC_CGROUP = 104,	// /proc/INIT/cgroup as it read when the record was written
	FAST_SECCOMP_VERSION = 105,	// "major.minor.micro\0" of the libseccomp that compiled the filter
	FAST_CGROUP = 2,	// "path\0": a cgroup.procs file to join (nsexec.c's REC_CGROUP)
};

// fast_key says which binary wrote the record, from which config.json, for which init and
// shim; a record whose key does not hold any more is stale.
struct fast_key {
	uint64_t exe_dev, exe_ino, exe_size;
	int64_t exe_mtime_sec, exe_mtime_nsec;
	uint64_t cfg_dev, cfg_ino, cfg_size;
	int64_t cfg_mtime_sec, cfg_mtime_nsec, cfg_ctime_sec, cfg_ctime_nsec;
	int32_t init_pid, shim_pid;
	uint64_t init_start, shim_start;
};
_Static_assert(sizeof(struct fast_key) == 120, "struct fast_key is execfast.go's fastKeyRecord");

// fast_args is the command line: glassbox [--root DIR] exec [-i] [-e K=V]... [-w DIR] REF CMD...
struct fast_args {
	const char *root;
	int interactive;
	const char *env[FAST_MAX_ENV];
	int nenv;
	const char *workdir;
	const char *ref;	// as given, for messages
	char **cmd;
	int ncmd;
};

struct fast_record {
	char *buf;		// the file, which the pointers below point into
	struct fast_key key;
	const char *id, *name, *image;
	const char *proc_cgroup;
	uint32_t proc_cgroup_len;
	const char *seccomp_version;
	const char *cgroups[FAST_MAX_CGROUPS];
	int ncgroups;
	struct exec_cfg exec;
};

// fast_target is what the checks opened: the init's pidfd and root, the namespaces to join.
struct fast_target {
	int pidfd, root_fd;
	uint32_t ns_flags;
};

// fast_events writes the exec's events as engine/containers_exec_events.go does.
struct fast_events {
	char path[PATH_MAX];	// ROOT/events.json
	const char *id, *name, *image;
	char exec_id[65];
	char *cmd;		// the command's words joined by spaces
};

int fast_events_init(struct fast_events *ev, const char *root, struct fast_record *r, char **cmd, int ncmd);
void fast_events_started(struct fast_events *ev);
void fast_events_died(struct fast_events *ev, int code);

// glassbox_exec_fast runs the exec and exits, or returns (to Go) with nothing changed.
void glassbox_exec_fast(int argc, char **argv);

// fast_run runs a checked exec to the end and exits; it returns only when Go is to do it
// after all (the steps in the container failed before anything ran), with nothing changed.
void fast_run(struct fast_args *a, struct fast_record *r, struct fast_target *t);

#endif
