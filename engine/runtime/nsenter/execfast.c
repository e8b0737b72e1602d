// The exec fast path's checks: the command line, the record, the container's processes.
// Every check that fails sends the exec to Go, which does it the long way (and says why it
// cannot, when it cannot); nothing here writes anything or leaves a descriptor open.
//
// The record is glassbox's own file (ROOT/containers/ID/exec.fast, root's, 0600, written
// whole by a rename), but it is still read as untrusted: opened without following a link,
// size-bounded, every length checked. It holds for how long its key holds: the same glassbox
// binary, the same config.json (identity and times), the same container init (PID and start
// time, so a reused PID is refused, and its /proc/PID/cgroup unchanged) and shim (the shim
// alive is what makes the engine call the container running). state.json writes remove it.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>

#include "execfast.h"
#include "readfile.h"
#include "kernel_compat.h"


#define FAST_MAX_RECORD (1 << 20)
#define DEFAULT_ROOT "/var/lib/glassbox"
#define CAP_SYS_PTRACE_BIT 19

static const char fast_magic[16] = "glassbox fast 1";

// SEALED_ENV marks the image reexec_sealed executed, so that it is done once at most.
#define SEALED_ENV "_GLASSBOX_EXEC_SEALED"

static int is_hex64(const char *s)
{
	for (int i = 0; i < 64; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return s[64] == '\0';
}

// valid_name is state.validName: [alnum][alnum_.-]*.
static int valid_name(const char *s)
{
	if (*s == '\0' || strlen(s) > 128)
		return 0;
	for (int i = 0; s[i]; i++) {
		char c = s[i];
		int alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
		if (!alnum && (i == 0 || (c != '_' && c != '.' && c != '-')))
			return 0;
	}
	return 1;
}

// parse_args accepts the command lines whose meaning it is sure of, as cobra and pflag read
// them (flags end at CONTAINER); anything else (-t, -d, -u, --privileged, -e NAME, a flag
// it does not know, a combined or abbreviated form) is Go's.
static int parse_args(int argc, char **argv, struct fast_args *a)
{
	if (argc < 4 || argv == NULL || argv[0] == NULL)
		return -1;
	// A name main.go maps to a subcommand (oci.go: glassbox-oci, runc) is not the docker-style
	// CLI; any other name is, as it is to cobra.
	if (glassbox_is_base(argv[0], "glassbox-oci") || glassbox_is_base(argv[0], "runc"))
		return -1;
	const char *root = NULL;
	int i = 1;
	for (;; i++) {
		if (i >= argc)
			return -1;
		if (strcmp(argv[i], "--root") == 0 && i + 1 < argc)
			root = argv[++i];
		else if (strncmp(argv[i], "--root=", 7) == 0)
			root = argv[i] + 7;
		else if (strcmp(argv[i], "exec") == 0)
			break;
		else
			return -1;
	}
	for (i++; i < argc; i++) {
		const char *s = argv[i];
		if (s[0] != '-' || s[1] == '\0')
			break;
		if (strcmp(s, "--") == 0) {
			i++;
			break;
		}
		if (strcmp(s, "-i") == 0 || strcmp(s, "--interactive") == 0) {
			a->interactive = 1;
			continue;
		}
		const char *v = NULL;
		int env = 0;
		if (strcmp(s, "-e") == 0 || strcmp(s, "--env") == 0 || strcmp(s, "-w") == 0 || strcmp(s, "--workdir") == 0) {
			if (i + 1 >= argc)
				return -1;
			env = s[1] == 'e' || s[2] == 'e';
			v = argv[++i];
		} else if (strncmp(s, "--env=", 6) == 0) {
			env = 1;
			v = s + 6;
		} else if (strncmp(s, "--workdir=", 10) == 0) {
			v = s + 10;
		} else {
			return -1;
		}
		if (!env) {
			a->workdir = v;
			continue;
		}
		// -e NAME passes this process's NAME: Go's (exec.go's os.Getenv).
		if (strchr(v, '=') == NULL || a->nenv == FAST_MAX_ENV)
			return -1;
		a->env[a->nenv++] = v;
	}
	if (i + 1 >= argc)
		return -1;	// CONTAINER and a command: cobra's MinimumNArgs(2) says the rest
	a->ref = argv[i];
	a->cmd = argv + i + 1;
	a->ncmd = argc - i - 1;
	if (root == NULL) {
		root = getenv("GLASSBOX_ROOT");
		if (root == NULL || root[0] == '\0')
			root = DEFAULT_ROOT;
	}
	if (root[0] != '/')
		return -1;	// Go makes a relative root absolute
	a->root = root;
	return 0;
}

static int pathf(char *buf, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int pathf(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, size, fmt, ap);
	va_end(ap);
	return n < 0 || (size_t)n >= size ? -1 : 0;
}

// resolve is state.Resolve for a full ID or an exact name; a prefix is Go's.
static int resolve(const char *root, const char *ref, char id[65], int *by_name)
{
	char path[PATH_MAX];
	if (ref[0] == '/')
		ref++;
	if (strlen(ref) == 64 && is_hex64(ref)) {
		memcpy(id, ref, 65);
		*by_name = 0;
		return 0;
	}
	if (!valid_name(ref))
		return -1;
	// Resolve tries the ref as a container directory first.
	if (pathf(path, sizeof(path), "%s/containers/%s/state.json", root, ref) < 0 || access(path, F_OK) == 0 || errno != ENOENT)
		return -1;
	char owner[66];	// a longer file does not fit
	if (pathf(path, sizeof(path), "%s/names/%s", root, ref) < 0 || glassbox_read_small(path, owner, sizeof(owner), O_NOFOLLOW) != 64 ||
	    !is_hex64(owner))
		return -1;
	memcpy(id, owner, 65);
	*by_name = 1;
	return 0;
}

static void free_record(struct fast_record *r)
{
	free(r->buf);
	free(r->exec.argv);
	free(r->exec.envp);
	free(r->exec.groups);
	free(r->exec.rlimits);
	memset(r, 0, sizeof(*r));
}

// nul_terminated returns the string p when the record is exactly it and its NUL.
static const char *nul_terminated(char *p, uint32_t len)
{
	return len > 0 && memchr(p, '\0', len) == p + len - 1 ? p : NULL;
}

static int parse_record(struct fast_record *r, char *p, char *end)
{
	int have_key = 0;
	if (end - p < (long)sizeof(fast_magic) || memcmp(p, fast_magic, sizeof(fast_magic)) != 0)
		return -1;
	p += sizeof(fast_magic);
	for (;;) {
		uint32_t hdr[2];
		if (end - p < 8)
			return -1;
		memcpy(hdr, p, 8);
		p += 8;
		uint32_t type = hdr[0], len = hdr[1];
		if (len > (uint64_t)(end - p))
			return -1;
		switch (type) {
		case 0:
			if (len != 0 || p != end)
				return -1;
			if (!have_key || !r->id || !r->name || !r->image || !r->proc_cgroup || !r->seccomp_version ||
			    !r->exec.present)
				return -1;
			return 0;
		case FAST_KEY:
			if (len != sizeof(r->key))
				return -1;
			memcpy(&r->key, p, len);
			have_key = 1;
			break;
		case FAST_ID:
			if ((r->id = nul_terminated(p, len)) == NULL)
				return -1;
			break;
		case FAST_NAME:
			if ((r->name = nul_terminated(p, len)) == NULL)
				return -1;
			break;
		case FAST_IMAGE:
			if ((r->image = nul_terminated(p, len)) == NULL)
				return -1;
			break;
		case FAST_SECCOMP_VERSION:
			if ((r->seccomp_version = nul_terminated(p, len)) == NULL)
				return -1;
			break;
		case FAST_PROC_CGROUP:
			r->proc_cgroup = p;
			r->proc_cgroup_len = len;
			break;
		case FAST_CGROUP:
			if (r->ncgroups == FAST_MAX_CGROUPS || (r->cgroups[r->ncgroups] = nul_terminated(p, len)) == NULL)
				return -1;
			r->ncgroups++;
			break;
		case REC_EXEC_ARG:	// the command is this command line's
			return -1;
		default:
			if (glassbox_exec_record(&r->exec, type, p, len) != 0)
				return -1;
		}
		p += len;
	}
}

// load_record reads and parses ROOT/containers/ID/exec.fast.
static int load_record(const char *root, const char *id, struct fast_record *r)
{
	char path[PATH_MAX];
	size_t size;
	if (pathf(path, sizeof(path), "%s/containers/%s/exec.fast", root, id) < 0)
		return -1;
	if ((r->buf = glassbox_read_record(path, sizeof(fast_magic), FAST_MAX_RECORD, &size)) == NULL ||
	    parse_record(r, r->buf, r->buf + size) < 0)
		return -1;
	return strcmp(r->id, id) == 0 ? 0 : -1;
}

static int alive(int pid, uint64_t start)
{
	char state;
	uint64_t got;
	if (pid <= 0 || glassbox_proc_stat(pid, &state, &got) < 0 || state == 'Z' || state == 'X')
		return 0;
	return start == 0 || got == start;
}

static int same_file(const struct stat *st, uint64_t dev, uint64_t ino, uint64_t size, int64_t msec, int64_t mnsec)
{
	return st->st_dev == dev && st->st_ino == ino && (uint64_t)st->st_size == size && st->st_mtim.tv_sec == msec &&
	    st->st_mtim.tv_nsec == mnsec;
}

// libseccomp's, weak: the record's filter was compiled by the library this binary runs with,
// which a library upgrade changes (exec.cache is keyed the same way).
struct fast_scmp_version {
	unsigned int major, minor, micro;
};
extern const struct fast_scmp_version *seccomp_version(void) __attribute__((weak));

static int same_seccomp(const char *recorded)
{
	char v[64] = "";
	if (seccomp_version != NULL) {
		const struct fast_scmp_version *sv = seccomp_version();
		if (sv == NULL)
			return 0;
		snprintf(v, sizeof(v), "%u.%u.%u", sv->major, sv->minor, sv->micro);
	}
	return strcmp(v, recorded) == 0;
}

static const struct {
	const char *name;
	uint32_t flag;
} ns_types[] = {
	{ "user", CLONE_NEWUSER }, { "ipc", CLONE_NEWIPC }, { "uts", CLONE_NEWUTS }, { "net", CLONE_NEWNET },
	{ "pid", CLONE_NEWPID }, { "mnt", CLONE_NEWNS }, { "cgroup", CLONE_NEWCGROUP }, { "time", CLONE_NEWTIME },
};

// check_target checks the record's key and opens what entering the init takes: a pidfd of
// it (checked to be the recorded process after it was opened, so a PID reused in between
// cannot redirect anything) and its root; the namespaces to join are those that differ from
// this process's, as OpenTarget finds them.
static int check_target(const char *root, struct fast_record *r, struct fast_target *t)
{
	char path[PATH_MAX];
	struct stat st, own;
	const struct fast_key *k = &r->key;
	if (stat("/proc/self/exe", &st) < 0 || !same_file(&st, k->exe_dev, k->exe_ino, k->exe_size, k->exe_mtime_sec, k->exe_mtime_nsec))
		return -1;
	if (pathf(path, sizeof(path), "%s/containers/%s/config.json", root, r->id) < 0 || stat(path, &st) < 0 ||
	    !same_file(&st, k->cfg_dev, k->cfg_ino, k->cfg_size, k->cfg_mtime_sec, k->cfg_mtime_nsec) ||
	    st.st_ctim.tv_sec != k->cfg_ctime_sec || st.st_ctim.tv_nsec != k->cfg_ctime_nsec)
		return -1;
	if (!same_seccomp(r->seccomp_version) || k->init_start == 0 || !alive(k->shim_pid, k->shim_start))
		return -1;
	// An exec --privileged entered the container (state.Store.ExecPrivilegedPath): see below.
	if (pathf(path, sizeof(path), "%s/containers/%s/exec.privileged", root, r->id) < 0 || access(path, F_OK) == 0 || errno != ENOENT)
		return -1;
	t->pidfd = syscall(SYS_pidfd_open, k->init_pid, 0);
	if (t->pidfd < 0)
		return -1;
	// The recorded init was there before the pidfd was opened and is there after: the PID
	// was its all along, so the pidfd is of it.
	if (!alive(k->init_pid, k->init_start))
		return -1;
	char cg[8192];
	ssize_t n;
	if (pathf(path, sizeof(path), "/proc/%d/cgroup", k->init_pid) < 0 || (n = glassbox_read_small(path, cg, sizeof(cg), 0)) < 0 ||
	    (size_t)n != r->proc_cgroup_len || memcmp(cg, r->proc_cgroup, n) != 0)
		return -1;
	for (size_t i = 0; i < sizeof(ns_types) / sizeof(ns_types[0]); i++) {
		char self[64];
		snprintf(self, sizeof(self), "/proc/self/ns/%s", ns_types[i].name);
		if (stat(self, &own) < 0) {
			if (errno == ENOENT)
				continue;	// a type this kernel lacks
			return -1;
		}
		if (pathf(path, sizeof(path), "/proc/%d/ns/%s", k->init_pid, ns_types[i].name) < 0 || stat(path, &st) < 0)
			return -1;
		if (st.st_dev != own.st_dev || st.st_ino != own.st_ino)
			t->ns_flags |= ns_types[i].flag;
	}
	// A process in the container with CAP_SYS_PTRACE in this user namespace could attach to
	// the entering process in spite of its being non-dumpable, and take what it holds of the
	// host's until its execve: containers whose processes may have it (their bounding set
	// has it, or an exec --privileged entered them) are Go's.
	if (!(t->ns_flags & CLONE_NEWUSER) && (!(r->exec.flags & EXEC_CAPS) || (r->exec.caps[CAPS_BOUNDING] >> CAP_SYS_PTRACE_BIT) & 1))
		return -1;
	if (pathf(path, sizeof(path), "/proc/%d/root", k->init_pid) < 0)
		return -1;
	t->root_fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (t->root_fd < 0)
		return -1;
	// /proc/PID/cgroup, ns and root were opened by number: they were the init's if it is
	// still not reaped now (a PID is free for reuse only then), which its pidfd says.
	return syscall(SYS_pidfd_send_signal, t->pidfd, 0, NULL, 0) == 0 ? 0 : -1;
}

// exe_read_only says whether this process runs its binary from a read-only mount.
static int exe_read_only(void)
{
	struct statvfs fs;
	return statvfs("/proc/self/exe", &fs) == 0 && (fs.f_flag & ST_RDONLY);
}

// reexec_sealed executes this binary again, from a read-only, detached bind mount of itself
// (glassbox_sealed_exe; nsenter's readOnlyBinary in Go): the entering process runs glassbox
// inside the container until its execve, and that execve resolves a program that is a
// symbolic link to /proc/self/exe (or a script it interprets) to this very binary, which
// then runs in the container, dumpable: a process there could open its /proc/PID/exe and
// write to the host's binary through it (CVE-2019-5736). From the clone, /proc/PID/exe
// names a file no one can open for writing (EROFS). It returns only when it could not.
static void reexec_sealed(char **argv)
{
	extern char **environ;
	int fd = glassbox_sealed_exe();
	if (fd < 0)
		return;
	if (setenv(SEALED_ENV, "1", 1) == 0) {
		syscall(SYS_execveat, fd, "", argv, environ, AT_EMPTY_PATH);
		unsetenv(SEALED_ENV);
	}
	close(fd);
}

void glassbox_exec_fast(int argc, char **argv)
{
	struct fast_args a = { 0 };
	struct fast_record r = { 0 };
	struct fast_target t = { .pidfd = -1, .root_fd = -1 };
	char id[65];
	int by_name;
	const char *mode = getenv("GLASSBOX_EXEC");
	int sealed = getenv(SEALED_ENV) != NULL, reexec = 0;

	// Neither Go nor the program sees the mark.
	if (sealed)
		unsetenv(SEALED_ENV);
	if (mode != NULL && strcmp(mode, "go") == 0)
		return;
	if (parse_args(argc, argv, &a) < 0)
		return;
	// Go's stdio must be there to fall back to, and a pipe must not land on 0, 1 or 2.
	for (int fd = 0; fd < 3; fd++)
		if (fcntl(fd, F_GETFD) < 0)
			return;
	// With SIGCHLD ignored (inherited through execve) the program would be reaped unseen,
	// its status lost.
	struct sigaction chld;
	if (sigaction(SIGCHLD, NULL, &chld) < 0 || chld.sa_handler == SIG_IGN || (chld.sa_flags & SA_NOCLDWAIT))
		return;
	if (resolve(a.root, a.ref, id, &by_name) == 0 && load_record(a.root, id, &r) == 0 &&
	    (!by_name || strcmp(r.name + (r.name[0] == '/'), a.ref + (a.ref[0] == '/')) == 0) &&
	    check_target(a.root, &r, &t) == 0) {
		if (exe_read_only())
			fast_run(&a, &r, &t);
		else
			reexec = !sealed;	// once: a clone that is not read-only after all is Go's
	}
	if (t.pidfd >= 0)
		close(t.pidfd);
	if (t.root_fd >= 0)
		close(t.root_fd);
	free_record(&r);
	if (reexec)
		reexec_sealed(argv);
}
