// The exec half of the constructor (execc.c): with an exec record in the config, the process
// that nsexec.c left inside the target goes on in C to execve, so that no Go runtime starts
// in it at all. entry.go's ExecMain is the same steps in Go, for what C does not do (a login
// shell, seccomp).
#ifndef GLASSBOX_EXECC_H
#define GLASSBOX_EXECC_H

#include <stdint.h>

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

__attribute__((noreturn))
void glassbox_exec_finish(struct exec_cfg *e);

#endif
