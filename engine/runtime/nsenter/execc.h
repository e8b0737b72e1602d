// The exec half of the constructor (execc.c): with an exec record in the config, the process
// that nsexec.c left inside the target goes on in C to execve, so that no Go runtime starts
// in it at all. entry.go's ExecMain is the same steps in Go, for what C does not do (a login
// shell, seccomp).
#ifndef GLASSBOX_EXECC_H
#define GLASSBOX_EXECC_H

#include <stdint.h>

// Record types of an exec (nsexec.c's config wire format, execrecord.go): u32 type, u32
// length, payload.
enum {
	REC_EXEC = 6,		// i32 request, root, cwd fds; u32 EXEC_*; u16 rows, cols; u32 uid, gid;
				// u64 capability sets[5]; "cwd\0"
	REC_EXEC_ARG = 7,	// "arg\0", in order
	REC_EXEC_ENV = 8,	// "K=V\0", in order
	REC_EXEC_GROUP = 9,	// u32 supplementary gid
	REC_EXEC_RLIMIT = 10,	// struct exec_rlimit
	REC_EXEC_SECCOMP = 11,	// u32 seccomp(2) flags, struct sock_filter[]
};

enum {
	EXEC_TTY = 1,
	EXEC_USER = 2,
	EXEC_CAPS = 4,
	EXEC_NNP = 8,
};

enum { CAPS_BOUNDING, CAPS_EFFECTIVE, CAPS_PERMITTED, CAPS_INHERITABLE, CAPS_AMBIENT, CAPS_SETS };

struct exec_rlimit {
	uint32_t resource;
	uint32_t pad;
	uint64_t soft, hard;
};

struct exec_cfg {
	int present;
	int32_t request_fd, root_fd, cwd_fd;
	uint32_t flags;
	uint16_t rows, cols;
	uint32_t uid, gid;
	uint64_t caps[CAPS_SETS];
	const char *cwd;
	char **argv;
	int argc;
	char **envp;
	int envc;
	uint32_t *groups;
	int ngroups;
	struct exec_rlimit *rlimits;
	int nrlimits;
	// A seccomp program exported by engine/runtime/seccomp: seccomp(2) flags and filters.
	uint32_t seccomp_flags;
	const void *seccomp_filter;
	uint32_t seccomp_len;	// in struct sock_filter entries; 0: none
};

// glassbox_exec_record adds one REC_EXEC* record (payload p of len bytes, which must stay
// valid as long as e: its strings and filter are pointed to, not copied) to e: 0 when taken,
// -1 when malformed or out of memory (errno says which), 1 when type is no exec record.
int glassbox_exec_record(struct exec_cfg *e, uint32_t type, char *p, uint32_t len);

// glassbox_exec_append adds item to a NULL-terminated array that grows as needed; -1 when
// out of memory (the array is unchanged).
int glassbox_exec_append(void **arr, int *n, size_t size, const void *item);

__attribute__((noreturn))
void glassbox_exec_finish(struct exec_cfg *e);

#endif
