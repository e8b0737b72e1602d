// The container init in C: the constructor (nsexec.c), once inside the container's new
// namespaces and cgroups, runs the plan that engine/runtime's Create made of the spec (plan.go)
// and ends in execve, without a Go runtime ever starting in the init. Each operation is one
// kernel step (a mount, an open inside the rootfs, pivot_root, a capability set...) with its
// arguments decided in Go; this side only executes them in order, times them and reports the
// first that fails by its index and errno over the sync socket, so that Go can word the error
// exactly as the Go init (init.go, rootfs.go) does. crun (src/libcrun/linux.c) and runc's
// libcontainer/rootfs_linux.go are the references for the steps; the security rules are the
// Go init's: every mount target is opened inside the rootfs (openat2 RESOLVE_IN_ROOT) and
// mounted on through /proc/thread-self/fd, proc and sysfs refuse any symlink on the way,
// /dev/null is checked to be the null device before it masks anything (CVE-2025-31133), and
// only descriptors 0, 1 and 2 survive execve (CVE-2024-21626).
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <signal.h>

#include "initc.h"
#include "initc_internal.h"

static int sync_fd = -1;
static int slots[NSLOTS];
static struct timing *timings;
static uint32_t ntimings, captimings;

int initc_err, initc_kind, initc_variant;
char initc_text[2048];
char initc_program[PATH_MAX];

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

// initc_fail records why the running operation failed: errno (0: none) after text, which may
// be empty. It returns -1 for the handler to return.
__attribute__((format(printf, 2, 3)))
int initc_fail(int err, const char *fmt, ...)
{
	va_list ap;
	initc_err = err;
	va_start(ap, fmt);
	vsnprintf(initc_text, sizeof(initc_text), fmt, ap);
	va_end(ap);
	return -1;
}

void initc_send(uint32_t type, int32_t index, uint32_t kind, int fd)
{
	struct msg_hdr h = { type, index, initc_err, kind, ntimings, 0 };
	if (type == MSG_ERROR)
		h.textlen = strlen(initc_text);
	struct iovec iov[3] = { { &h, sizeof(h) }, { timings, ntimings * sizeof(struct timing) }, { initc_text, h.textlen } };
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct msghdr msg = { .msg_iov = iov, .msg_iovlen = 3 };
	if (fd >= 0) {
		memset(&u, 0, sizeof(u));
		msg.msg_control = u.buf;
		msg.msg_controllen = sizeof(u.buf);
		struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	}
	while (sendmsg(sync_fd, &msg, MSG_NOSIGNAL) < 0)
		if (errno != EINTR) {
			if (type == MSG_ERROR)
				dprintf(2, "glassbox: init: operation %d: %s: %s\n", index, initc_text, strerror(initc_err));
			_exit(1);
		}
	ntimings = 0;
}

static void record(uint32_t index, int err, int64_t start, int64_t end)
{
	if (ntimings == captimings) {
		captimings = captimings ? captimings * 2 : 64;
		timings = realloc(timings, captimings * sizeof(*timings));
		if (timings == NULL)
			_exit(1);
	}
	timings[ntimings++] = (struct timing) { index, err, start, end - start, initc_variant, 0 };
}

const char *initc_fd_path(int fd, char *buf, size_t len)
{
	snprintf(buf, len, "/proc/thread-self/fd/%d", fd);
	return buf;
}

int initc_slot(int64_t slot)
{
	return slot >= 0 && slot < NSLOTS ? slots[slot] : -1;
}

void initc_set_slot(int64_t slot, int fd)
{
	if (slot < 0 || slot >= NSLOTS)
		return;
	if (slots[slot] >= 0)
		close(slots[slot]);
	slots[slot] = fd;
}

static void wait_continue(void)
{
	struct msg_hdr h;
	ssize_t n;
	do
		n = recv(sync_fd, &h, sizeof(h), 0);
	while (n < 0 && errno == EINTR);
	if (n != sizeof(h) || h.type != MSG_CONTINUE) {
		initc_fail(n < 0 ? errno : EPROTO, "sync: wait for hooks");
		return;
	}
	initc_err = 0;
}

static int run_op(struct op *o)
{
	switch (o->code) {
	case OP_BEGIN:
		sync_fd = o->a[0];
		return 0;
	case OP_MARK:
		return 0;
	case OP_MOUNT:
		return initc_mount(o);
	case OP_OPEN:{
			int fd = open(o->s[0], (int)o->a[1] | O_CLOEXEC);
			if (fd < 0)
				return initc_fail(errno, "open %s", o->s[0]);
			initc_set_slot(o->a[0], fd);
			return 0;
		}
	case OP_OPEN_IN_ROOT:{
			int fd = initc_open_in_root(initc_slot(o->a[1]), o->s[0], o->s[1], o->a[2], o->a[3]);
			if (fd < 0)
				return -1;
			initc_set_slot(o->a[0], fd);
			return 0;
		}
	case OP_OPENAT:{
			int fd = openat(initc_slot(o->a[1]), o->s[0], (int)o->a[2] | O_CLOEXEC);
			if (fd < 0)
				return initc_fail(errno, "%s", "");
			initc_set_slot(o->a[0], fd);
			return 0;
		}
	case OP_CLOSE:
		initc_set_slot(o->a[0], -1);
		return 0;
	case OP_MKDIRAT:
		if (mkdirat(initc_slot(o->a[0]), o->s[0], o->a[1]) < 0 && errno != EEXIST)
			return initc_fail(errno, "%s", "");
		return 0;
	case OP_CREATEAT:{
			int fd = openat(initc_slot(o->a[0]), o->s[0], O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0644);
			if (fd < 0 && errno != EEXIST)
				return initc_fail(errno, "make mount point");
			if (fd >= 0)
				close(fd);
			return 0;
		}
	case OP_MKNODAT:{
			int dir = initc_slot(o->a[0]);
			unlinkat(dir, o->s[0], 0);
			if (mknodat(dir, o->s[0], o->a[1], o->a[2]) < 0)
				return initc_fail(errno, "%s", "");
			// mknod honours the umask; the spec's mode is meant exactly. Mode and owner go
			// to the node by its descriptor, checked to be what mknod made: fchmodat(2) by
			// name follows a symlink swapped in meanwhile, out of the rootfs before
			// pivot_root (devices.go's fixNode).
			int fd = openat(dir, o->s[0], O_PATH | O_NOFOLLOW | O_CLOEXEC);
			if (fd < 0)
				return initc_fail(errno, "%s", "");
			struct stat st;
			int r = 0;
			char p[64];
			if (fstat(fd, &st) < 0)
				r = initc_fail(errno, "%s", "");
			else if ((st.st_mode & S_IFMT) != (o->a[1] & S_IFMT) || (!S_ISFIFO(st.st_mode) && st.st_rdev != (dev_t)o->a[2]))
				r = initc_fail(0, "%s changed under the init", o->s[0]);
			else {
				chmod(initc_fd_path(fd, p, sizeof(p)), o->a[1] & 07777);
				if ((o->a[3] >= 0 || o->a[4] >= 0) && fchownat(fd, "", o->a[3], o->a[4], AT_EMPTY_PATH) < 0)
					r = initc_fail(errno, "%s", "");
			}
			close(fd);
			return r;
		}
	case OP_SYMLINKAT:
		if (symlinkat(o->s[0], initc_slot(o->a[0]), o->s[1]) < 0 && errno != EEXIST)
			return initc_fail(errno, "%s", "");
		return 0;
	case OP_HOOKS:
	case OP_READY:
		return 0;	// the loop talks to the parent after them
	case OP_PIVOT_ROOT:
		return initc_pivot_root(o->s[0]);
	case OP_CHROOT:
		return initc_chroot(o->s[0]);
	case OP_SETHOSTNAME:
		return sethostname(o->s[0], o->n[0]) < 0 ? initc_fail(errno, "sethostname") : 0;
	case OP_SETDOMAINNAME:
		return setdomainname(o->s[0], o->n[0]) < 0 ? initc_fail(errno, "setdomainname") : 0;
	case OP_KEYRING:
		return syscall(SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, o->s[0]) < 0 ? initc_fail(errno, "%s", "") : 0;
	case OP_CONSOLE:
		return initc_console(o);
	case OP_WRITE_FILE:
		return initc_write_sysctl(o->s[0], o->s[1], o->n[1]);
	case OP_CHECK_NULL:
		return initc_check_null(o);
	case OP_MASK:
		return initc_mask(o);
	case OP_READONLY:
		return initc_readonly(o->s[0]);
	case OP_RLIMIT:{
			struct rlimit rl = { (rlim_t)o->a[1], (rlim_t)o->a[2] };
			return prlimit(0, o->a[0], &rl, NULL) < 0 ? initc_fail(errno, "%s", "") : 0;
		}
	case OP_CHDIR:
		return initc_chdir(o->s[0]);
	case OP_SECCOMP:
		return initc_seccomp(o->s[0], o->n[0]);
	case OP_BOUNDING:
		return initc_bounding(o->a[0]);
	case OP_USER:
		return initc_user(o);
	case OP_CAPS:
		return initc_caps(o);
	case OP_NNP:
		return prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ? initc_fail(errno, "prctl PR_SET_NO_NEW_PRIVS") : 0;
	case OP_LOOKUP:
		return initc_lookup(o);
	case OP_LSM_EXEC:
		return initc_lsm_exec(o);
	case OP_SCHED:{
			// The kernel reads attr.size bytes (sched_setattr(2)); plan.go sent a whole
			// struct of the size it names.
			uint64_t attr[8] = { 0 };
			uint32_t size;
			if (o->n[0] < 48 || o->n[0] > sizeof(attr))
				return initc_fail(EINVAL, "sched_setattr: attr of %u bytes", o->n[0]);
			memcpy(attr, o->s[0], o->n[0]);
			memcpy(&size, attr, 4);
			if (size != o->n[0])
				return initc_fail(EINVAL, "sched_setattr: attr of %u bytes", o->n[0]);
			return syscall(SYS_sched_setattr, 0, attr, 0) < 0 ? initc_fail(errno, "sched_setattr") : 0;
		}
	case OP_IOPRIO:
		return syscall(SYS_ioprio_set, 1, 0, (int)o->a[0]) < 0 ? initc_fail(errno, "ioprio_set") : 0;
	case OP_START_HOOK:
		return initc_stash_hook(o);
	case OP_MOVE_MOUNT:
		// The parent's detached idmapped mount onto the target opened inside the rootfs.
		if (syscall(SYS_move_mount, (int)o->a[0], "", initc_slot(o->a[1]), "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
			return initc_fail(errno, "move_mount");
		return 0;
	}
	return initc_fail(EINVAL, "unknown operation %u", o->code);
}

// next_op decodes one operation at *p: u32 code, u32 flags, i64 args[6], then four strings,
// each a u32 length, its bytes and a NUL.
static int next_op(const char **p, const char *end, struct op *o)
{
	size_t fixed = 8 + 8 * NARGS;
	if ((size_t)(end - *p) < fixed)
		return -1;
	memcpy(&o->code, *p, 4);
	memcpy(&o->flags, *p + 4, 4);
	memcpy(o->a, *p + 8, 8 * NARGS);
	*p += fixed;
	for (int i = 0; i < NSTRS; i++) {
		uint32_t n;
		if (end - *p < 4)
			return -1;
		memcpy(&n, *p, 4);
		*p += 4;
		if ((size_t)(end - *p) < (size_t)n + 1 || (*p)[n] != '\0')
			return -1;
		o->s[i] = *p;
		o->n[i] = n;
		*p += n + 1;
	}
	return 0;
}

// on_signal ends the init. As a PID namespace's init it gets, from outside, only the signals
// it handles: without this, `kill ID` (SIGTERM) of a created container would do nothing,
// where the Go init (whose runtime handles them and exits) ends as runc's does.
static void on_signal(int sig)
{
	_exit(128 + sig);
}

void glassbox_init_run(const char *plan, uint32_t len)
{
	const char *p = plan, *end = plan + len;
	// execve resets a handled signal to its default: the program starts with its own.
	struct sigaction sa = { .sa_handler = on_signal };
	sigemptyset(&sa.sa_mask);
	for (int sig = 1; sig < NSIG; sig++)
		if (sig == SIGHUP || sig == SIGINT || sig == SIGTERM || sig == SIGQUIT)
			sigaction(sig, &sa, NULL);
	for (int i = 0; i < NSLOTS; i++)
		slots[i] = -1;
	for (int32_t index = 0; p < end; index++) {
		struct op o;
		if (next_op(&p, end, &o) < 0) {
			initc_fail(EINVAL, "read plan: operation %d is malformed", index);
			if (sync_fd >= 0)
				initc_send(MSG_ERROR, index, 0, -1);
			_exit(1);
		}
		if (o.code == OP_EXEC)
			initc_exec(&o);
		initc_err = 0;
		initc_kind = KIND_NONE;
		initc_variant = VAR_PLANNED;
		initc_text[0] = '\0';
		int64_t start = now_ns();
		int r = run_op(&o);
		int64_t end = now_ns();
		if (o.code == OP_MARK && o.a[0] >= 0 && o.a[0] + 1 < NSEXEC_MARKS) {
			start = glassbox_nsexec_marks[o.a[0]];
			end = glassbox_nsexec_marks[o.a[0] + 1];
		}
		// -1 in a timing: failed without an errno (the error message says why).
		if ((o.flags & OPF_TRACE) && start > 0 && end >= start)
			record(index, r < 0 ? (initc_err ? initc_err : -1) : 0, start, end);
		if (r < 0 && (o.flags & OPF_IGNORE_ERROR))
			r = 0;
		if (r < 0) {
			initc_send(MSG_ERROR, index, initc_kind, -1);
			_exit(1);
		}
		switch (o.code) {
		case OP_HOOKS:
			initc_send(MSG_HOOKS, index, 0, -1);
			wait_continue();
			if (initc_err) {
				initc_send(MSG_ERROR, index, 0, -1);
				_exit(1);
			}
			break;
		case OP_READY:
			initc_send(MSG_READY, index, 0, -1);
			// startContainer hooks get the state, which names the PID the parent knows.
			if (initc_has_start_hooks() && initc_recv_state(sync_fd) < 0) {
				dprintf(2, "glassbox: init: %s: %s\n", initc_text, strerror(initc_err));
				_exit(1);
			}
			close(sync_fd);
			sync_fd = -1;
			break;
		}
	}
	_exit(1);		// a plan without OP_EXEC
}
