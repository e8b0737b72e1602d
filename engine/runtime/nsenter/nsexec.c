// The single-threaded half of package nsenter: a constructor that runs before the Go runtime
// starts in every process of a binary that links the package. It does nothing unless
// _GLASSBOX_NSENTER names a socket to read a join config from; then it joins cgroups and
// namespaces, creates namespaces, forks into a joined or new PID namespace, reports the PID of
// the process that goes on, and returns so that the Go runtime starts in that process.
//
// setns(2) of a mount or user namespace refuses a multi-threaded caller (EINVAL), and a Go
// program always has threads by the time main runs; runc's libcontainer/nsenter/nsexec.c is
// the reference for doing it here instead. The wire format is described in config.go.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <time.h>


#include "execc.h"
#include "execfast.h"
#include "grun.h"
#include "initc.h"
#include "kernel_compat.h"
#include "runc.h"

#define ENV_NAME "_GLASSBOX_NSENTER"

// Records of the config (Go -> C) and messages (both ways): u32 type, u32 length, payload.
enum {
	REC_END = 0,
	REC_NAMESPACE = 1,	// u32 clone flag, i32 fd (-1: open path), "path\0subject\0"
	REC_CGROUP = 2,		// "path\0": a cgroup.procs file to join
	REC_UNSHARE = 3,	// u32 clone flags of namespaces to create after joining
	REC_FLAGS = 4,		// u32 FLAG_*
	REC_TIMENS_OFFSETS = 5,	// text for /proc/self/timens_offsets of a new time namespace
	// 6 to 11: REC_EXEC*, execc.h
	REC_INIT = 12,		// a container init's plan for initc.c (engine/runtime/plan.go)
};

enum {
	FLAG_PRESERVE_CREDENTIALS = 1,	// do not become uid/gid 0 in a joined or new user namespace
	FLAG_NO_FORK = 2,		// do not fork after joining or creating a PID namespace
	FLAG_PLAN_LATER = 4,		// the plan (REC_INIT) and the mount namespace come after MSG_PID
};

enum {
	MSG_PID = 1,		// i32: the PID (in the caller's PID namespace) that goes on into Go
	MSG_USERMAP = 2,	// i32: write this process's uid and gid maps, then answer MSG_USERMAP_DONE
	MSG_USERMAP_DONE = 3,
	MSG_ERROR = 4,		// i32 errno, then the step that failed as text
};

#define MAX_NAMESPACES 16
#define MAX_CGROUPS 32
#define MAX_RECORD (64 * 1024)
#define MAX_INIT_RECORD (16 * 1024 * 1024)	// a plan carries a seccomp program and the environment

struct ns {
	uint32_t flag;
	int fd;
	const char *path;
	const char *subject;	// "of pid 1234" or the path, for messages
};

struct config {
	struct ns ns[MAX_NAMESPACES];
	int nns;
	const char *cgroups[MAX_CGROUPS];
	int ncgroups;
	uint32_t unshare;
	uint32_t flags;
	const char *timens_offsets;
};

static int sock = -1;
static struct exec_cfg exec_cfg;
static const char *init_plan;
static uint32_t init_plan_len;

static void send_msg(uint32_t type, const void *payload, uint32_t len)
{
	uint32_t hdr[2] = { type, len };
	struct iovec iov[2] = { { hdr, sizeof(hdr) }, { (void *)payload, len } };
	size_t want = sizeof(hdr) + len;
	// A stream socket may take a message in parts; the caller reads whole records.
	while (want > 0) {
		ssize_t n = writev(sock, iov, 2);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		want -= n;
		for (int i = 0; i < 2 && n > 0; i++) {
			size_t take = (size_t)n < iov[i].iov_len ? (size_t)n : iov[i].iov_len;
			iov[i].iov_base = (char *)iov[i].iov_base + take;
			iov[i].iov_len -= take;
			n -= take;
		}
	}
}

// fail reports the step that failed, with errno, to the caller and ends this process.
__attribute__((noreturn, format(printf, 2, 3)))
static void fail(int err, const char *fmt, ...)
{
	char buf[4096];
	int32_t e = err;
	va_list ap;

	memcpy(buf, &e, sizeof(e));
	va_start(ap, fmt);
	int n = vsnprintf(buf + sizeof(e), sizeof(buf) - sizeof(e), fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	if (n > (int)(sizeof(buf) - sizeof(e) - 1))
		n = sizeof(buf) - sizeof(e) - 1;
	if (sock >= 0)
		send_msg(MSG_ERROR, buf, sizeof(e) + n);
	else
		dprintf(2, "glassbox: nsenter: %s: %s\n", buf + sizeof(e), strerror(err));
	_exit(1);
}

static int read_full(int fd, void *buf, size_t len)
{
	char *p = buf;
	while (len > 0) {
		ssize_t n = read(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0) {
			errno = EPIPE;
			return -1;
		}
		p += n;
		len -= n;
	}
	return 0;
}

// next_string returns the NUL-terminated string at *p within [*p, end) and moves past it.
static const char *next_string(char **p, char *end)
{
	char *s = *p;
	char *nul = memchr(s, '\0', end - s);
	if (nul == NULL)
		fail(EINVAL, "read config: unterminated string");
	*p = nul + 1;
	return s;
}

static void read_config(struct config *c)
{
	for (;;) {
		uint32_t hdr[2];
		if (read_full(sock, hdr, sizeof(hdr)) < 0)
			fail(errno, "read config");
		uint32_t type = hdr[0], len = hdr[1];
		if (type == REC_END)
			return;
		if (len > (type == REC_INIT ? MAX_INIT_RECORD : MAX_RECORD))
			fail(EINVAL, "read config: record of %u bytes", len);
		// One allocation per record, kept for the life of this short process; NUL-padded so
		// a truncated string cannot run off the end.
		char *buf = calloc(1, len + 1);
		if (buf == NULL)
			fail(ENOMEM, "read config");
		if (read_full(sock, buf, len) < 0)
			fail(errno, "read config");
		char *p = buf, *end = buf + len;
		switch (type) {
		case REC_NAMESPACE:{
				if (c->nns == MAX_NAMESPACES || len < 8)
					fail(EINVAL, "read config: namespace record");
				struct ns *ns = &c->ns[c->nns++];
				int32_t fd;
				memcpy(&ns->flag, p, 4);
				memcpy(&fd, p + 4, 4);
				ns->fd = fd;
				p += 8;
				ns->path = next_string(&p, end);
				ns->subject = next_string(&p, end);
				break;
			}
		case REC_CGROUP:
			if (c->ncgroups == MAX_CGROUPS)
				fail(EINVAL, "read config: more than %d cgroups", MAX_CGROUPS);
			c->cgroups[c->ncgroups++] = next_string(&p, end);
			break;
		case REC_UNSHARE:
			if (len < 4)
				fail(EINVAL, "read config: unshare record");
			memcpy(&c->unshare, p, 4);
			break;
		case REC_FLAGS:{
				uint32_t f;
				if (len < 4)
					fail(EINVAL, "read config: flags record");
				memcpy(&f, p, 4);
				c->flags |= f;	// a second record adds to the first
				break;
			}
		case REC_TIMENS_OFFSETS:
			c->timens_offsets = buf;
			break;
		case REC_INIT:
			init_plan = buf;
			init_plan_len = len;
			break;
		default:{
				int r = glassbox_exec_record(&exec_cfg, type, p, len);
				if (r < 0)
					fail(errno, "read config: exec record %u of %u bytes", type, len);
				if (r > 0)
					fail(EINVAL, "read config: unknown record type %u", type);
			}
		}
	}
}

static const char *ns_name(uint32_t flag)
{
	switch (flag) {
	case CLONE_NEWUSER:
		return "user";
	case CLONE_NEWIPC:
		return "ipc";
	case CLONE_NEWUTS:
		return "uts";
	case CLONE_NEWNET:
		return "net";
	case CLONE_NEWPID:
		return "pid";
	case CLONE_NEWNS:
		return "mnt";
	case CLONE_NEWCGROUP:
		return "cgroup";
	case CLONE_NEWTIME:
		return "time";
	}
	return "unknown";
}

// join_cgroups moves this process into each cgroup.procs file before anything else: the
// paths are the caller's view of /sys/fs/cgroup, and every process forked from here on is
// born in the target's cgroups. Writing "0" moves the writer (cgroup_procs_write_start).
static void join_cgroups(struct config *c)
{
	for (int i = 0; i < c->ncgroups; i++) {
		int fd = open(c->cgroups[i], O_WRONLY | O_CLOEXEC);
		if (fd < 0)
			fail(errno, "join cgroup %s", c->cgroups[i]);
		if (write(fd, "0", 1) != 1)
			fail(errno, "join cgroup %s", c->cgroups[i]);
		close(fd);
	}
}

// open_namespaces opens every namespace given by path before joining any: after the mount
// or user namespace is joined, the paths may name other files or none.
static void open_namespaces(struct config *c)
{
	for (int i = 0; i < c->nns; i++) {
		struct ns *ns = &c->ns[i];
		if (ns->fd >= 0) {
			if (fcntl(ns->fd, F_SETFD, FD_CLOEXEC) < 0)
				fail(errno, "open %s namespace %s", ns_name(ns->flag), ns->subject);
			continue;
		}
		ns->fd = open(ns->path, O_RDONLY | O_CLOEXEC);
		if (ns->fd < 0)
			fail(errno, "open %s namespace %s", ns_name(ns->flag), ns->path);
	}
}

static void become_root(const char *why)
{
	// setresgid before setgroups and setresuid: after setresuid we may lack CAP_SETGID.
	if (setresgid(0, 0, 0) < 0)
		fail(errno, "setresgid 0 %s", why);
	// A user namespace whose setgroups is "deny" refuses this; its groups are then fixed.
	if (setgroups(0, NULL) < 0 && errno != EPERM)
		fail(errno, "setgroups %s", why);
	if (setresuid(0, 0, 0) < 0)
		fail(errno, "setresuid 0 %s", why);
}

static void join(struct config *c, struct ns *ns)
{
	if (setns(ns->fd, ns->flag) < 0)
		fail(errno, "setns %s %s", ns_name(ns->flag), ns->subject);
	close(ns->fd);
	ns->fd = -1;
	if (ns->flag == CLONE_NEWUSER && !(c->flags & FLAG_PRESERVE_CREDENTIALS)) {
		char why[PATH_MAX + 64];
		snprintf(why, sizeof(why), "in user namespace %s", ns->subject);
		become_root(why);
	}
}

// owned_by reports whether the namespace open at fd is owned by the user namespace open at
// userfd. When unknown, it says yes.
static int owned_by(int fd, int userfd)
{
	struct stat owner, user;
	int ownerfd = ioctl(fd, NS_GET_USERNS);
	if (ownerfd < 0)
		return 1;
	int r = fstat(ownerfd, &owner) == 0 && fstat(userfd, &user) == 0;
	close(ownerfd);
	return !r || (owner.st_dev == user.st_dev && owner.st_ino == user.st_ino);
}

// join_namespaces joins in the order given (user first, then ipc, uts, net, pid, mnt,
// cgroup, time: config.go sorts them). One exception: a namespace that the joined user
// namespace does not own cannot be joined from inside it (setns needs CAP_SYS_ADMIN in the
// owner), so it is joined before the user namespace, while the caller's own privileges hold.
static void join_namespaces(struct config *c)
{
	struct ns *user = NULL;
	for (int i = 0; i < c->nns; i++)
		if (c->ns[i].flag == CLONE_NEWUSER)
			user = &c->ns[i];
	if (user != NULL && !(c->flags & FLAG_PRESERVE_CREDENTIALS))
		setgroups(0, NULL);	// as nsenter(1): drop host groups while still allowed
	if (user != NULL)
		for (int i = 0; i < c->nns; i++) {
			struct ns *ns = &c->ns[i];
			if (ns != user && !owned_by(ns->fd, user->fd))
				join(c, ns);
		}
	for (int i = 0; i < c->nns; i++)
		if (c->ns[i].fd >= 0)
			join(c, &c->ns[i]);
}

static void wait_usermap(void)
{
	int32_t pid = getpid();
	uint32_t hdr[2];

	send_msg(MSG_USERMAP, &pid, sizeof(pid));
	if (read_full(sock, hdr, sizeof(hdr)) < 0)
		fail(errno, "wait for the caller to write the uid and gid maps");
	if (hdr[0] != MSG_USERMAP_DONE || hdr[1] != 0)
		fail(EPROTO, "wait for the caller to write the uid and gid maps: message %u", hdr[0]);
}

static void write_timens_offsets(const char *offsets)
{
	int fd = open("/proc/self/timens_offsets", O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		fail(errno, "open /proc/self/timens_offsets");
	size_t len = strlen(offsets);
	if (write(fd, offsets, len) != (ssize_t) len)
		fail(errno, "write /proc/self/timens_offsets");
	close(fd);
}

static void unshare_namespaces(struct config *c)
{
	uint32_t flags = c->unshare;

	// A new user namespace first and on its own: the caller, still privileged outside it,
	// writes the maps (a process inside cannot map more than its own IDs), and the other new
	// namespaces are then owned by it.
	if (flags & CLONE_NEWUSER) {
		if (unshare(CLONE_NEWUSER) < 0)
			fail(errno, "unshare user");
		// The caller writes our /proc files; a non-dumpable process's belong to root.
		prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
		wait_usermap();
		prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
		if (!(c->flags & FLAG_PRESERVE_CREDENTIALS))
			become_root("in the new user namespace");
		flags &= ~CLONE_NEWUSER;
	}
	if (flags != 0 && unshare(flags) < 0) {
		char names[128] = "";
		for (uint32_t bit = 1; bit != 0; bit <<= 1)
			if (flags & bit) {
				if (names[0])
					strcat(names, ",");
				strcat(names, ns_name(bit));
			}
		fail(errno, "unshare %s", names);
	}
	if ((c->unshare & CLONE_NEWTIME) && c->timens_offsets != NULL)
		write_timens_offsets(c->timens_offsets);
}

struct clone_args_v0 {
	uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls;
};

// clone_parent forks a child whose parent is our parent (the Go caller), so that it can wait
// for the process that really runs in the PID namespace; the intermediate just exits. With
// CLONE_PARENT the exit signal is our own (SIGCHLD) and clone3 wants exit_signal 0.
static pid_t clone_parent(void)
{
	struct clone_args_v0 args = { .flags = CLONE_PARENT };
	long pid = syscall(SYS_clone3, &args, sizeof(args));
	if (pid < 0 && errno == ENOSYS)
		pid = syscall(SYS_clone, CLONE_PARENT | SIGCHLD, 0, 0, 0, 0);
	return pid;
}

// cloexec_from marks every descriptor from fd up close-on-exec, so that nothing this process
// inherited reaches the program it finally executes unless the Go side hands it on.
static void cloexec_from(int fd)
{
	if (syscall(SYS_close_range, fd, ~0U, CLOSE_RANGE_CLOEXEC) == 0)
		return;
	struct rlimit rl;
	int max = 1024;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < 1 << 20)
		max = rl.rlim_cur;
	for (; fd < max; fd++)
		fcntl(fd, F_SETFD, FD_CLOEXEC);
}

static int parse_fd(const char *s)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < 3 || v > INT_MAX)
		return -1;
	return v;
}

// glassbox_nsexec_marks are when the constructor began, had joined the cgroups, had joined
// and made the namespaces, went on after the fork, and had its plan when it came later
// (FLAG_PLAN_LATER) (CLOCK_REALTIME): the C init's trace shows them as steps of their own.
int64_t glassbox_nsexec_marks[NSEXEC_MARKS];

static void mark(int i)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	glassbox_nsexec_marks[i] = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

// set_title_area gives the C init its arguments' bytes, argv[0] to the last NUL, for the
// --init reaper to name itself in (initc_reaper.c); only if they are one contiguous area, as
// execve(2) lays them out.
static void set_title_area(int argc, char **argv)
{
	if (argc < 1 || argv == NULL || argv[0] == NULL)
		return;
	char *end = argv[0] + strlen(argv[0]) + 1;
	for (int i = 1; i < argc; i++) {
		if (argv[i] != end)
			return;
		end += strlen(argv[i]) + 1;
	}
	initc_title_area = argv[0];
	initc_title_len = end - argv[0];
}

void glassbox_nsexec(int argc, char **argv)
{
	const char *env = getenv(ENV_NAME);
	if (env == NULL) {
		// Not a helper: a CLI, a shim, the workbench. `glassbox exec` and `oci run` may end
		// here; each returns at once unless the command line is its own.
		glassbox_exec_fast(argc, argv);
		glassbox_runc(argc, argv);
		set_title_area(argc, argv);	// for run's C shim to name itself in
		glassbox_grun(argc, argv);
		return;
	}
	mark(0);
	sock = parse_fd(env);
	if (sock < 0)
		fail(EINVAL, "%s=%s is not a descriptor", ENV_NAME, env);
	unsetenv(ENV_NAME);	// shifts environ in place: Go reads the same array when it starts
	// Executed from a read-only clone of the binary (binary.go), the kernel named this
	// process after the descriptor ("7"); ps, top and the Trace tab should say what it is.
	prctl(PR_SET_NAME, "glassbox", 0, 0, 0);

	struct config c = { 0 };
	read_config(&c);

	// Non-dumpable: while this process is in the target's namespaces and still runs glassbox,
	// a process there cannot open its /proc/PID/exe, fds or memory (ptrace access mode
	// checks); execve of the final program makes it dumpable again.
	if ((c.nns > 0 || c.unshare != 0) && prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
		fail(errno, "prctl PR_SET_DUMPABLE");

	join_cgroups(&c);
	mark(1);
	open_namespaces(&c);
	join_namespaces(&c);
	// With the plan later, the mount namespace too: a copy of the mounts made now would
	// lack the rootfs the parent is still mounting (the host's mounts need not propagate).
	uint32_t mntns_later = (c.flags & FLAG_PLAN_LATER) ? c.unshare & CLONE_NEWNS : 0;
	c.unshare &= ~mntns_later;
	unshare_namespaces(&c);
	mark(2);

	int pidns = c.unshare & (CLONE_NEWPID | CLONE_NEWTIME);
	const char *pidns_subject = "(new)";
	for (int i = 0; i < c.nns; i++)
		if (c.ns[i].flag == CLONE_NEWPID) {
			pidns = 1;
			pidns_subject = c.ns[i].subject;
		}
	int32_t pid = getpid();
	if (pidns && !(c.flags & FLAG_NO_FORK)) {
		// setns and unshare of a PID (or time) namespace apply to children only.
		int go[2];
		if (pipe2(go, O_CLOEXEC) < 0)
			fail(errno, "pipe");
		pid = clone_parent();
		if (pid < 0) {
			if (errno == ENOMEM)
				fail(errno, "fork into pid namespace %s (its init has exited)", pidns_subject);
			fail(errno, "fork into pid namespace %s", pidns_subject);
		}
		if (pid > 0) {
			send_msg(MSG_PID, &pid, sizeof(pid));
			// Only now may the child go on: were we killed before reporting, the caller
			// would not know it, so it must not run.
			if (write(go[1], "g", 1) != 1)
				_exit(1);
			_exit(0);
		}
		close(go[1]);
		char b;
		if (read(go[0], &b, 1) != 1)
			_exit(1);
		close(go[0]);
		mark(3);
	} else {
		send_msg(MSG_PID, &pid, sizeof(pid));
		mark(3);
	}
	if (c.flags & FLAG_PLAN_LATER) {
		// The namespaces are made; the plan comes once the parent has the rootfs mounted.
		read_config(&c);
		if (mntns_later && unshare(CLONE_NEWNS) < 0)
			fail(errno, "unshare mnt");
		mark(4);
	}
	if (init_plan != NULL) {
		close(sock);
		set_title_area(argc, argv);
		glassbox_init_run(init_plan, init_plan_len);
	}
	if (exec_cfg.present) {
		close(sock);
		if (exec_cfg.argc == 0)
			_exit(125);
		if (exec_cfg.envp == NULL) {
			static char *no_env[] = { NULL };
			exec_cfg.envp = no_env;
		}
		glassbox_exec_finish(&exec_cfg);
	}
	cloexec_from(3);
	close(sock);
}
