// Shared by the C init's files (initc.c: the interpreter and its protocol; initc_rootfs.c:
// the root filesystem; initc_process.c: the process up to execve).
#ifndef GLASSBOX_INITC_INTERNAL_H
#define GLASSBOX_INITC_INTERNAL_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include "kernel_compat.h"



// Operation codes: plan.go's op* constants, the same numbers.
enum {
	OP_BEGIN = 1,		// a0 sync socket fd
	OP_MOUNT = 2,		// s0 source, s1 target, s2 fstype, s3 data; a0 flags; a1 source slot, a2 target slot (-1: the string)
	OP_OPEN = 3,		// a0 slot, a1 open flags; s0 path
	OP_OPEN_IN_ROOT = 4,	// a0 slot, a1 root slot, a2 file, a3 strict; s0 path, s1 path cleaned, relative
	OP_OPENAT = 5,		// a0 slot, a1 dir slot, a2 open flags; s0 name
	OP_CLOSE = 6,		// a0 slot
	OP_MKDIRAT = 7,		// a0 dir slot, a1 mode; s0 name (may exist)
	OP_CREATEAT = 8,	// a0 dir slot; s0 name: an empty file (may exist)
	OP_MKNODAT = 9,		// a0 dir slot, a1 type|mode, a2 dev, a3 uid, a4 gid (-1: keep); s0 name
	OP_SYMLINKAT = 10,	// a0 dir slot; s0 target, s1 name (may exist)
	OP_HOOKS = 11,		// stop: the parent runs the createRuntime hooks
	OP_PIVOT_ROOT = 12,	// s0 rootfs
	OP_CHROOT = 13,		// s0 rootfs (--no-pivot)
	OP_SETHOSTNAME = 14,	// s0
	OP_SETDOMAINNAME = 15,	// s0
	OP_KEYRING = 16,	// s0 session keyring name
	OP_CONSOLE = 17,	// a0 rows, a1 cols
	OP_WRITE_FILE = 18,	// s0 path under /proc/sys, s1 data
	OP_CHECK_NULL = 19,	// a0 slot: /dev/null, checked to be the null device
	OP_MASK = 20,		// a0 /dev/null slot; s0 path
	OP_READONLY = 21,	// s0 path
	OP_RLIMIT = 22,		// a0 resource, a1 soft, a2 hard
	OP_CHDIR = 23,		// s0 path (made first)
	OP_SECCOMP = 24,	// s0 u32 seccomp(2) flags, struct sock_filter[]
	OP_BOUNDING = 25,	// a0 capability mask
	OP_USER = 26,		// a0 uid, a1 gid, a2 setgroups allowed, a3 umask (-1: keep); s0 u32 gids[]
	OP_CAPS = 27,		// a0 effective, a1 permitted, a2 inheritable, a3 ambient masks
	OP_NNP = 28,
	OP_LOOKUP = 29,		// s0 program, s1 search path
	OP_READY = 30,		// set up: tell the parent, let go of the sync socket
	OP_EXEC = 31,		// a0 exec fifo fd, a1 preserved descriptors (3 up), a2 EXEC_* flags; s0 argv, s1 envp (NUL-separated); s2 seccomp program loaded last
	OP_MARK = 32,		// a0 i: the constructor's phase from mark i to mark i+1, as a step
	OP_LSM_EXEC = 33,	// a0 LSM_APPARMOR or LSM_SELINUX; s0 profile or label, applied at execve
	OP_MOVE_MOUNT = 34,	// a0 detached mount fd (the parent's idmapped clone), a1 target slot
	OP_SCHED = 35,		// s0 struct sched_attr for sched_setattr(2) on this thread
	OP_IOPRIO = 36,		// a0 ioprio_set(2) value for this thread
	OP_START_HOOK = 37,	// a0 timeout s (0: none); s0 path, s1 args, s2 env (NUL-separated): run in initc_exec
};

// Security modules of OP_LSM_EXEC: engine/runtime/lsm's kinds.
enum { LSM_APPARMOR = 1, LSM_SELINUX = 2 };

enum { OPF_TRACE = 1, OPF_IGNORE_ERROR = 2 };

// OP_EXEC's flags (plan.go's exec*): EXEC_REAPER forks the program and stays PID 1 (initc_reaper.c).
enum { EXEC_REAPER = 1 };

// Messages to the parent (SOCK_SEQPACKET: one per send), plan.go's msgC*.
enum { MSG_READY = 1, MSG_HOOKS = 2, MSG_CONSOLE = 3, MSG_ERROR = 4, MSG_CONTINUE = 5 };

// Kinds of a failure that the parent maps to docker's statuses.
enum { KIND_NONE = 0, KIND_NOT_FOUND = 1, KIND_NOT_EXECUTABLE = 2 };

// Variants of a step the parent words differently: what the init found only at run time.
enum { VAR_PLANNED = 0, VAR_FILE = 1, VAR_SKIPPED = 2 };

#define NARGS 6
#define NSTRS 4
#define NSLOTS 16

struct op {
	uint32_t code, flags;
	int64_t a[NARGS];
	const char *s[NSTRS];
	uint32_t n[NSTRS];
};

struct msg_hdr {
	uint32_t type;
	int32_t index, err;
	uint32_t kind, ntimings, textlen;
};

struct timing {
	uint32_t index;
	int32_t err;
	int64_t start_ns, duration_ns;
	uint32_t variant, pad;
};

// The outcome of the running operation: errno (0: none), kind, variant and the text of a
// failure, which the parent words as the Go init would (plan.go).
extern int initc_err, initc_kind, initc_variant;
extern char initc_text[2048];
// The program initc_lookup found, for initc_exec.
extern char initc_program[PATH_MAX];

__attribute__((format(printf, 2, 3)))
int initc_fail(int err, const char *fmt, ...);
void initc_send(uint32_t type, int32_t index, uint32_t kind, int fd);
const char *initc_fd_path(int fd, char *buf, size_t len);
int initc_slot(int64_t slot);
void initc_set_slot(int64_t slot, int fd);
// initc_split_list turns "a\0b\0" into a NULL-terminated array; {def} when it holds none
// (def may be NULL). It exits when out of memory.
char **initc_split_list(const char *s, uint32_t len, const char *def);

int initc_mount(struct op *o);
int initc_open_in_root(int root, const char *path, const char *clean, int file, int strict);
int initc_pivot_root(const char *rootfs);
int initc_chroot(const char *rootfs);
int initc_write_sysctl(const char *path, const char *data, size_t len);
int initc_check_null(struct op *o);
int initc_mask(struct op *o);
int initc_readonly(const char *path);
int initc_chdir(const char *path);

int initc_console(struct op *o);
int initc_seccomp(const char *prog, uint32_t len);
int initc_bounding(uint64_t keep);
int initc_user(struct op *o);
int initc_caps(struct op *o);
int initc_lookup(struct op *o);
int initc_lsm_exec(struct op *o);
int initc_stash_hook(struct op *o);
int initc_has_start_hooks(void);
int initc_recv_state(int sock);
int initc_start_hooks(void);
__attribute__((noreturn))
void initc_exec(struct op *o);
// initc_exit_after_ready says why the init ends on stderr (the sync socket is gone) and exits.
__attribute__((noreturn, format(printf, 2, 3)))
void initc_exit_after_ready(int code, const char *fmt, ...);
void initc_reaper_fork(int fifo);

#endif
