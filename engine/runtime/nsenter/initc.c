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
#include <grp.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <termios.h>

#include "initc.h"

#ifndef TIOCGPTPEER
#define TIOCGPTPEER _IO('T', 0x41)
#endif
#ifndef PR_CAP_AMBIENT
#define PR_CAP_AMBIENT 47
#define PR_CAP_AMBIENT_RAISE 2
#define PR_CAP_AMBIENT_CLEAR_ALL 4
#endif
#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif
#ifndef SYS_close_range
#define SYS_close_range 436
#endif
#ifndef SYS_openat2
#define SYS_openat2 437
#endif
#ifndef RESOLVE_NO_MAGICLINKS
#define RESOLVE_NO_MAGICLINKS 0x02
#endif
#ifndef RESOLVE_NO_SYMLINKS
#define RESOLVE_NO_SYMLINKS 0x04
#endif
#ifndef RESOLVE_IN_ROOT
#define RESOLVE_IN_ROOT 0x10
#endif
#ifndef KEYCTL_JOIN_SESSION_KEYRING
#define KEYCTL_JOIN_SESSION_KEYRING 1
#endif

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
	OP_WRITE_FILE = 18,	// s0 path, s1 data
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
	OP_EXEC = 31,		// a0 exec fifo fd; s0 argv, s1 envp (NUL-separated); s2 seccomp program loaded last
	OP_MARK = 32,		// a0 i: the constructor's phase from mark i to mark i+1, as a step
};

enum { OPF_TRACE = 1, OPF_IGNORE_ERROR = 2 };

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

static int sync_fd = -1;
static int slots[NSLOTS];
static struct timing *timings;
static uint32_t ntimings, captimings;

// The outcome of the running operation.
static int op_err, op_kind, op_variant;
static char op_text[2048];
static char program[PATH_MAX];

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

// failed records why the running operation failed: errno (0: none) after text, which may be
// empty. It returns -1 for the handler to return.
__attribute__((format(printf, 2, 3)))
static int failed(int err, const char *fmt, ...)
{
	va_list ap;
	op_err = err;
	va_start(ap, fmt);
	vsnprintf(op_text, sizeof(op_text), fmt, ap);
	va_end(ap);
	return -1;
}

static void send_to_parent(uint32_t type, int32_t index, uint32_t kind, int fd)
{
	struct msg_hdr h = { type, index, op_err, kind, ntimings, 0 };
	if (type == MSG_ERROR)
		h.textlen = strlen(op_text);
	struct iovec iov[3] = { { &h, sizeof(h) }, { timings, ntimings * sizeof(struct timing) }, { op_text, h.textlen } };
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
				dprintf(2, "glassbox: init: operation %d: %s: %s\n", index, op_text, strerror(op_err));
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
	timings[ntimings++] = (struct timing) { index, err, start, end - start, op_variant, 0 };
}

static const char *fd_path(int fd, char *buf, size_t len)
{
	snprintf(buf, len, "/proc/thread-self/fd/%d", fd);
	return buf;
}

static int slot_fd(int64_t slot)
{
	return slot >= 0 && slot < NSLOTS ? slots[slot] : -1;
}

static void set_slot(int64_t slot, int fd)
{
	if (slot < 0 || slot >= NSLOTS)
		return;
	if (slots[slot] >= 0)
		close(slots[slot]);
	slots[slot] = fd;
}

struct open_how_v0 {
	uint64_t flags, mode, resolve;
};

static int openat2_in(int dir, const char *path, int flags, uint64_t resolve)
{
	struct open_how_v0 how = { (uint64_t)(flags | O_CLOEXEC), 0, resolve };
	return syscall(SYS_openat2, dir, path, &how, sizeof(how));
}

// resolve_in_root is rootfs.go's resolveInRoot: path inside the rootfs open at root with
// every symlink on the way replaced by what it names, as if root were "/" (".." stops at the
// root, an absolute link restarts from it); missing parts are kept as given.
static int resolve_in_root(int root, const char *path, char *out, size_t outlen)
{
	char rest[2 * PATH_MAX], tmp[2 * PATH_MAX], cand[PATH_MAX], target[PATH_MAX];
	if (snprintf(rest, sizeof(rest), "%s", path) >= (int)sizeof(rest))
		return ENAMETOOLONG;
	char *r = rest;
	size_t ol = 0;
	int links = 0;
	out[0] = '\0';
	for (;;) {
		while (*r == '/')
			r++;
		if (*r == '\0')
			return 0;
		char *end = strchrnul(r, '/');
		size_t cl = end - r;
		char comp[NAME_MAX + 1];
		if (cl > NAME_MAX)
			return ENAMETOOLONG;
		memcpy(comp, r, cl);
		comp[cl] = '\0';
		r = end;
		if (strcmp(comp, ".") == 0)
			continue;
		if (strcmp(comp, "..") == 0) {
			char *p = strrchr(out, '/');
			ol = p ? (size_t)(p - out) : 0;
			out[ol] = '\0';
			continue;
		}
		if (snprintf(cand, sizeof(cand), ol ? "%s/%s" : "%s%s", out, comp) >= (int)sizeof(cand))
			return ENAMETOOLONG;
		ssize_t n = readlinkat(root, cand, target, sizeof(target) - 1);
		if (n < 0) {
			// Not a symlink (EINVAL), or not there yet (ENOENT, ENOTDIR): take it as is.
			if (strlen(cand) >= outlen)
				return ENAMETOOLONG;
			strcpy(out, cand);
			ol = strlen(out);
			continue;
		}
		target[n] = '\0';
		if (++links > 255)
			return ELOOP;
		if (target[0] == '/') {
			ol = 0;
			out[0] = '\0';
		}
		if (snprintf(tmp, sizeof(tmp), "%s/%s", target, r) >= (int)sizeof(tmp))
			return ENAMETOOLONG;
		strcpy(rest, tmp);
		r = rest;
	}
}

// open_in_root is rootfs.go's openInRoot: open path inside the rootfs open at root, making
// missing directories (and the last component as an empty file when file is set), every
// symlink resolved inside the root; strict refuses symlinks altogether.
static int open_in_root(int root, const char *path, const char *clean, int file, int strict)
{
	uint64_t resolve = RESOLVE_IN_ROOT | (strict ? RESOLVE_NO_SYMLINKS : RESOLVE_NO_MAGICLINKS);
	char rel[PATH_MAX];
	int err = resolve_in_root(root, path, rel, sizeof(rel));
	if (err)
		return failed(err, "resolve %s in the rootfs", path);
	if (strict && strcmp(rel, clean) != 0)
		return failed(ELOOP, "open %s in the rootfs: {errno} (a symlink is on the way)", path);
	if (rel[0] == '\0') {
		int fd = openat2_in(root, ".", O_PATH | O_DIRECTORY, resolve);
		return fd >= 0 ? fd : failed(errno, "open %s in the rootfs", path);
	}
	int fd = openat2_in(root, rel, O_PATH, resolve);
	if (fd >= 0)
		return fd;
	if (errno != ENOENT)
		return failed(errno, "open %s in the rootfs", path);
	// Make it one component at a time, each created relative to its resolved parent.
	int dir = openat2_in(root, ".", O_PATH | O_DIRECTORY, resolve);
	if (dir < 0)
		return failed(errno, "open %s in the rootfs", path);
	char *p = rel;
	for (;;) {
		char *slash = strchr(p, '/');
		int last = slash == NULL;
		if (slash)
			*slash = '\0';
		int next = openat2_in(dir, p, O_PATH, resolve);
		if (next < 0 && errno == ENOENT) {
			err = ENOENT;
			if (last && file) {
				int f = openat(dir, p, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0644);
				if (f >= 0)
					close(f);
				else if (errno != EEXIST)
					err = errno;
			} else if (mkdirat(dir, p, 0755) < 0 && errno != EEXIST) {
				err = errno;
			}
			if (err == ENOENT) {
				next = openat2_in(dir, p, O_PATH, resolve);
				err = next < 0 ? errno : 0;
			}
		} else if (next < 0) {
			err = errno;
		}
		close(dir);
		if (next < 0)
			return failed(err, "make %s in the rootfs", path);
		dir = next;
		if (last)
			return dir;
		p = slash + 1;
	}
}

static int do_mount(struct op *o)
{
	char src[64], dst[64];
	const char *source = o->s[0], *target = o->s[1];
	if (o->a[1] >= 0)
		source = fd_path(slot_fd(o->a[1]), src, sizeof(src));
	if (o->a[2] >= 0)
		target = fd_path(slot_fd(o->a[2]), dst, sizeof(dst));
	// As x/sys/unix.Mount: no data is NULL, some filesystems refuse "".
	if (mount(source, target, o->s[2], o->a[0], o->n[3] ? o->s[3] : NULL) < 0)
		return failed(errno, "%s", "");
	return 0;
}

static int do_pivot_root(const char *rootfs)
{
	int oldroot = open("/", O_DIRECTORY | O_RDONLY | O_CLOEXEC);
	if (oldroot < 0)
		return failed(errno, "open /");
	int newroot = open(rootfs, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
	if (newroot < 0)
		return failed(errno, "open %s", rootfs);
	if (fchdir(newroot) < 0)
		return failed(errno, "fchdir rootfs");
	// pivot_root(".", ".") stacks the old root on the new one; unmounting "." then drops it
	// (pivot_root(2), NOTES), with no directory to make in the rootfs.
	if (syscall(SYS_pivot_root, ".", ".") < 0)
		return failed(errno, "pivot_root %s", rootfs);
	if (fchdir(oldroot) < 0)
		return failed(errno, "fchdir old root");
	// Slave first, so the unmount does not propagate to the host's mounts.
	if (mount("", ".", "", MS_SLAVE | MS_REC, NULL) < 0)
		return failed(errno, "make old root rslave");
	if (umount2(".", MNT_DETACH) < 0)
		return failed(errno, "unmount old root");
	if (chdir("/") < 0)
		return failed(errno, "chdir /");
	close(oldroot);
	close(newroot);
	return 0;
}

static int do_chroot(const char *rootfs)
{
	if (chdir(rootfs) < 0)
		return failed(errno, "chdir %s", rootfs);
	if (mount(rootfs, "/", NULL, MS_MOVE, NULL) < 0)
		return failed(errno, "mount --move %s /", rootfs);
	if (chroot(".") < 0)
		return failed(errno, "chroot");
	if (chdir("/") < 0)
		return failed(errno, "chdir /");
	return 0;
}

// do_console is console.go's: a pty from the container's own devpts, its master sent to the
// parent, the slave bound over /dev/console and made the controlling terminal and stdio.
static int do_console(struct op *o)
{
	int master = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (master < 0)
		return failed(errno, "open /dev/ptmx");
	int unlock = 0;
	if (ioctl(master, TIOCSPTLCK, &unlock) < 0)
		return failed(errno, "unlock pty");
	// TIOCGPTPEER opens the slave without a path a process in the container could swap.
	int slave = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (slave < 0)
		return failed(errno, "open pty slave");
	if (o->a[0] > 0 && o->a[1] > 0) {
		struct winsize ws = { .ws_row = o->a[0], .ws_col = o->a[1] };
		if (ioctl(master, TIOCSWINSZ, &ws) < 0)
			return failed(errno, "set console size");
	}
	op_err = 0;
	send_to_parent(MSG_CONSOLE, -1, 0, master);
	close(master);
	int fd = open("/dev/console", O_CREAT | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd >= 0) {
		char p[64];
		close(fd);
		if (mount(fd_path(slave, p, sizeof(p)), "/dev/console", "", MS_BIND, NULL) < 0)
			return failed(errno, "bind pty slave on /dev/console");
	}
	if (setsid() < 0)
		return failed(errno, "setsid");
	if (ioctl(slave, TIOCSCTTY, 0) < 0)
		return failed(errno, "set controlling terminal");
	for (int i = 0; i < 3; i++)
		if (dup3(slave, i, 0) < 0)
			return failed(errno, "dup pty slave to %d", i);
	close(slave);
	return 0;
}

static int write_file(const char *path, const char *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	// Worded as init.go's os.WriteFile errors are.
	if (fd < 0)
		return failed(errno, "write %s: open %s", path, path);
	ssize_t n = write(fd, data, len);
	int err = errno;
	close(fd);
	if (n != (ssize_t) len)
		return failed(n < 0 ? err : EIO, "write %s: write %s", path, path);
	return 0;
}

static int check_null(struct op *o)
{
	int fd = open("/dev/null", O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return failed(errno, "%s", "");
	struct stat st;
	if (fstat(fd, &st) < 0)
		return failed(errno, "%s", "");
	if (!S_ISCHR(st.st_mode) || st.st_rdev != makedev(1, 3))
		return failed(0, "/dev/null is not the null device");
	set_slot(o->a[0], fd);
	return 0;
}

// do_mask hides a path: an empty read-only tmpfs over a directory, the checked /dev/null
// over anything else; a symlink is refused (what it names is not what the spec hides).
static int do_mask(struct op *o)
{
	const char *p = o->s[0];
	char src[64], dst[64];
	int fd = open(p, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT) {
		op_variant = VAR_SKIPPED;
		return 0;
	}
	if (fd < 0)
		return failed(errno, "open %s", p);
	struct stat st;
	if (fstat(fd, &st) < 0)
		return failed(errno, "stat %s", p);
	int r = 0;
	if (S_ISDIR(st.st_mode)) {
		if (mount("tmpfs", fd_path(fd, dst, sizeof(dst)), "tmpfs", MS_RDONLY, "size=0,mode=0555") < 0)
			r = failed(errno, "mount tmpfs on %s", p);
	} else if (S_ISLNK(st.st_mode)) {
		r = failed(0, "%s is a symlink", p);
	} else {
		op_variant = VAR_FILE;
		if (mount(fd_path(slot_fd(o->a[0]), src, sizeof(src)), fd_path(fd, dst, sizeof(dst)), "", MS_BIND, NULL) < 0)
			r = failed(errno, "mount /dev/null on %s", p);
	}
	close(fd);
	return r;
}

static int do_readonly(const char *p)
{
	char src[64], dst[64];
	int fd = open(p, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT) {
		op_variant = VAR_SKIPPED;
		return 0;
	}
	if (fd < 0)
		return failed(errno, "open %s", p);
	fd_path(fd, src, sizeof(src));
	int r = mount(src, src, "", MS_BIND | MS_REC, NULL);
	int err = errno;
	close(fd);
	if (r < 0)
		return failed(err, "mount %s on %s", p, p);
	// The root is the container's now: reopening p reaches the new mount.
	fd = open(p, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return failed(errno, "open %s", p);
	r = mount("", fd_path(fd, dst, sizeof(dst)), "", MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
	err = errno;
	close(fd);
	if (r < 0)
		return failed(err, "mount none on %s", p);
	return 0;
}

static int do_chdir(const char *path)
{
	char buf[PATH_MAX];
	if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf))
		return failed(ENAMETOOLONG, "mkdir %s", path);
	// mkdir -p, as os.MkdirAll: each parent in turn, an existing one is fine.
	for (char *p = buf + 1;; p++) {
		if (*p == '/' || *p == '\0') {
			char c = *p;
			*p = '\0';
			if (mkdir(buf, 0755) < 0 && errno != EEXIST)
				return failed(errno, "mkdir %s", buf);
			*p = c;
			if (c == '\0')
				break;
		}
	}
	if (chdir(path) < 0)
		return failed(errno, "chdir %s", path);
	return 0;
}

static int load_seccomp(const char *prog, uint32_t len)
{
	uint32_t flags;
	if (len < 4 + 8)
		return 0;
	memcpy(&flags, prog, 4);
	struct sock_fprog fprog = { .len = (len - 4) / 8, .filter = (struct sock_filter *)(prog + 4) };
	if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &fprog) < 0)
		return failed(errno, "seccomp: load filter");
	return 0;
}

static int do_bounding(uint64_t keep)
{
	// PR_CAPBSET_READ fails with EINVAL past the kernel's last capability.
	for (int c = 0; prctl(PR_CAPBSET_READ, c, 0, 0, 0) >= 0; c++)
		if (!(c < 64 && (keep >> c) & 1) && prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0)
			return failed(errno, "set bounding capabilities");
	return 0;
}

// do_user is caps.go's setUser: groups, gid, uid, keeping the permitted capabilities across
// setresuid (PR_SET_KEEPCAPS) so that do_caps can set them for the new user.
static int do_user(struct op *o)
{
	uint32_t ngroups = o->n[0] / 4;
	if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
		return failed(errno, "prctl PR_SET_KEEPCAPS");
	if (o->a[2] || ngroups > 0) {
		gid_t groups[ngroups + 1];
		memcpy(groups, o->s[0], ngroups * 4);
		if (syscall(SYS_setgroups, ngroups, groups) < 0 && !(errno == EPERM && ngroups == 0))
			return failed(errno, "setgroups");
	}
	if (syscall(SYS_setresgid, (gid_t)o->a[1], (gid_t)o->a[1], (gid_t)o->a[1]) < 0)
		return failed(errno, "setresgid %lld", (long long)o->a[1]);
	if (syscall(SYS_setresuid, (uid_t)o->a[0], (uid_t)o->a[0], (uid_t)o->a[0]) < 0)
		return failed(errno, "setresuid %lld", (long long)o->a[0]);
	if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0)
		return failed(errno, "prctl PR_SET_KEEPCAPS");
	if (o->a[3] >= 0)
		umask(o->a[3]);
	return 0;
}

static int do_caps(struct op *o)
{
	struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct data[2];
	for (int i = 0; i < 2; i++) {
		data[i].effective = (uint32_t)((uint64_t)o->a[0] >> (32 * i));
		data[i].permitted = (uint32_t)((uint64_t)o->a[1] >> (32 * i));
		data[i].inheritable = (uint32_t)((uint64_t)o->a[2] >> (32 * i));
	}
	if (syscall(SYS_capset, &hdr, data) < 0)
		return failed(errno, "set capabilities");
	// An ambient capability that is not both permitted and inheritable cannot be raised:
	// runc ignores that (`runc spec` writes such a config), and so does caps.go.
	if (o->a[3] != 0) {
		prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
		for (int c = 0; c < 64; c++)
			if (((uint64_t)o->a[3] >> c) & 1)
				prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, c, 0, 0);
	}
	return 0;
}

// check_program is init.go's lookPath check: ENOENT and friends say not found, a directory
// or a denied access say not executable.
static int check_program(const char *p)
{
	struct stat st;
	if (stat(p, &st) < 0) {
		op_kind = KIND_NOT_FOUND;
		return failed(errno, "exec %s", p);
	}
	op_kind = KIND_NOT_EXECUTABLE;
	if (S_ISDIR(st.st_mode))
		return failed(0, "exec %s: is a directory", p);
	if (access(p, X_OK) < 0)
		return failed(errno, "exec %s", p);
	op_kind = KIND_NONE;
	return 0;
}

// do_lookup finds the program as execvp(3) would, at create time, so that a missing program
// fails the create with 127 as runc's does.
static int do_lookup(struct op *o)
{
	const char *file = o->s[0];
	if (strchr(file, '/') != NULL) {
		snprintf(program, sizeof(program), "%s", file);
		return check_program(file);
	}
	int denied = 0, denied_err = 0;
	char denied_text[sizeof(op_text)] = "";
	for (const char *dir = o->s[1];;) {
		const char *colon = strchrnul(dir, ':');
		int dlen = colon - dir;
		if (dlen == 0)
			snprintf(program, sizeof(program), "./%s", file);
		else
			snprintf(program, sizeof(program), "%.*s/%s", dlen, dir, file);
		if (check_program(program) == 0)
			return 0;
		if (op_kind == KIND_NOT_EXECUTABLE && !denied) {
			denied = 1;
			denied_err = op_err;
			memcpy(denied_text, op_text, sizeof(op_text));
		}
		if (*colon == '\0')
			break;
		dir = colon + 1;
	}
	if (denied) {
		op_kind = KIND_NOT_EXECUTABLE;
		return failed(denied_err, "%s", denied_text);
	}
	op_kind = KIND_NOT_FOUND;
	return failed(0, "exec \"%s\": executable file not found in $PATH", file);
}

// split_list turns "a\0b\0" into a NULL-terminated array.
static char **split_list(const char *s, uint32_t len)
{
	int n = 0;
	for (uint32_t i = 0; i < len; i++)
		if (s[i] == '\0')
			n++;
	char **v = calloc(n + 1, sizeof(char *));
	if (v == NULL)
		_exit(1);
	for (int i = 0; i < n; i++) {
		v[i] = (char *)s;
		s += strlen(s) + 1;
	}
	return v;
}

__attribute__((noreturn, format(printf, 2, 3)))
static void exit_after_ready(int code, const char *fmt, ...)
{
	char msg[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	dprintf(2, "glassbox: init: %s\n", msg);
	_exit(code);
}

// do_exec is init.go's exec: wait for Start on the exec fifo, then execute the program with
// only stdio open. The fifo's write end stays open (close-on-exec) until execve succeeds, so
// that Start, reading to its end, sees when the program took over.
__attribute__((noreturn))
static void do_exec(struct op *o)
{
	char path[64];
	// The constructor made the init non-dumpable, which makes /proc/self/fd root's and closed
	// to a non-root user: it must be dumpable to reopen the fifo. execve makes it so anyway;
	// until then no other process of the container exists.
	if (prctl(PR_SET_DUMPABLE, 1, 0, 0, 0) < 0)
		exit_after_ready(126, "prctl PR_SET_DUMPABLE: %s", strerror(errno));
	snprintf(path, sizeof(path), "/proc/self/fd/%d", (int)o->a[0]);
	int fifo = open(path, O_WRONLY | O_CLOEXEC);
	if (fifo < 0)
		exit_after_ready(126, "open exec fifo: %s", strerror(errno));
	if (write(fifo, "", 1) != 1)
		exit_after_ready(126, "write exec fifo: %s", strerror(errno));
	close(o->a[0]);
	if (syscall(SYS_close_range, 3, ~0U, CLOSE_RANGE_CLOEXEC) < 0)
		exit_after_ready(126, "close_range: %s", strerror(errno));
	if (load_seccomp(o->s[2], o->n[2]) < 0)
		exit_after_ready(126, "linux.seccomp: seccomp: load filter: %s", strerror(op_err));
	char **argv = split_list(o->s[0], o->n[0]);
	char **envp = split_list(o->s[1], o->n[1]);
	execve(program, argv, envp);
	int err = errno;
	exit_after_ready(err == ENOENT || err == ENOTDIR ? 127 : 126, "exec %s: %s", program, strerror(err));
}

static void wait_continue(void)
{
	struct msg_hdr h;
	ssize_t n;
	do
		n = recv(sync_fd, &h, sizeof(h), 0);
	while (n < 0 && errno == EINTR);
	if (n != sizeof(h) || h.type != MSG_CONTINUE) {
		failed(n < 0 ? errno : EPROTO, "sync: wait for hooks");
		return;
	}
	op_err = 0;
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
		return do_mount(o);
	case OP_OPEN:{
			int fd = open(o->s[0], (int)o->a[1] | O_CLOEXEC);
			if (fd < 0)
				return failed(errno, "open %s", o->s[0]);
			set_slot(o->a[0], fd);
			return 0;
		}
	case OP_OPEN_IN_ROOT:{
			int fd = open_in_root(slot_fd(o->a[1]), o->s[0], o->s[1], o->a[2], o->a[3]);
			if (fd < 0)
				return -1;
			set_slot(o->a[0], fd);
			return 0;
		}
	case OP_OPENAT:{
			int fd = openat(slot_fd(o->a[1]), o->s[0], (int)o->a[2] | O_CLOEXEC);
			if (fd < 0)
				return failed(errno, "%s", "");
			set_slot(o->a[0], fd);
			return 0;
		}
	case OP_CLOSE:
		set_slot(o->a[0], -1);
		return 0;
	case OP_MKDIRAT:
		if (mkdirat(slot_fd(o->a[0]), o->s[0], o->a[1]) < 0 && errno != EEXIST)
			return failed(errno, "%s", "");
		return 0;
	case OP_CREATEAT:{
			int fd = openat(slot_fd(o->a[0]), o->s[0], O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0644);
			if (fd < 0 && errno != EEXIST)
				return failed(errno, "make mount point");
			if (fd >= 0)
				close(fd);
			return 0;
		}
	case OP_MKNODAT:{
			int dir = slot_fd(o->a[0]);
			unlinkat(dir, o->s[0], 0);
			if (mknodat(dir, o->s[0], o->a[1], o->a[2]) < 0)
				return failed(errno, "%s", "");
			// mknod honours the umask; the spec's mode is meant exactly.
			fchmodat(dir, o->s[0], o->a[1] & 07777, 0);
			if ((o->a[3] >= 0 || o->a[4] >= 0) && fchownat(dir, o->s[0], o->a[3], o->a[4], AT_SYMLINK_NOFOLLOW) < 0)
				return failed(errno, "%s", "");
			return 0;
		}
	case OP_SYMLINKAT:
		if (symlinkat(o->s[0], slot_fd(o->a[0]), o->s[1]) < 0 && errno != EEXIST)
			return failed(errno, "%s", "");
		return 0;
	case OP_HOOKS:
	case OP_READY:
		return 0;	// the loop talks to the parent after them
	case OP_PIVOT_ROOT:
		return do_pivot_root(o->s[0]);
	case OP_CHROOT:
		return do_chroot(o->s[0]);
	case OP_SETHOSTNAME:
		return sethostname(o->s[0], o->n[0]) < 0 ? failed(errno, "sethostname") : 0;
	case OP_SETDOMAINNAME:
		return setdomainname(o->s[0], o->n[0]) < 0 ? failed(errno, "setdomainname") : 0;
	case OP_KEYRING:
		return syscall(SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, o->s[0]) < 0 ? failed(errno, "%s", "") : 0;
	case OP_CONSOLE:
		return do_console(o);
	case OP_WRITE_FILE:
		return write_file(o->s[0], o->s[1], o->n[1]);
	case OP_CHECK_NULL:
		return check_null(o);
	case OP_MASK:
		return do_mask(o);
	case OP_READONLY:
		return do_readonly(o->s[0]);
	case OP_RLIMIT:{
			struct rlimit rl = { (rlim_t)o->a[1], (rlim_t)o->a[2] };
			return prlimit(0, o->a[0], &rl, NULL) < 0 ? failed(errno, "%s", "") : 0;
		}
	case OP_CHDIR:
		return do_chdir(o->s[0]);
	case OP_SECCOMP:
		return load_seccomp(o->s[0], o->n[0]);
	case OP_BOUNDING:
		return do_bounding(o->a[0]);
	case OP_USER:
		return do_user(o);
	case OP_CAPS:
		return do_caps(o);
	case OP_NNP:
		return prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ? failed(errno, "prctl PR_SET_NO_NEW_PRIVS") : 0;
	case OP_LOOKUP:
		return do_lookup(o);
	}
	return failed(EINVAL, "unknown operation %u", o->code);
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

void glassbox_init_run(const char *plan, uint32_t len)
{
	const char *p = plan, *end = plan + len;
	for (int i = 0; i < NSLOTS; i++)
		slots[i] = -1;
	for (int32_t index = 0; p < end; index++) {
		struct op o;
		if (next_op(&p, end, &o) < 0) {
			failed(EINVAL, "read plan: operation %d is malformed", index);
			if (sync_fd >= 0)
				send_to_parent(MSG_ERROR, index, 0, -1);
			_exit(1);
		}
		if (o.code == OP_EXEC)
			do_exec(&o);
		op_err = 0;
		op_kind = KIND_NONE;
		op_variant = VAR_PLANNED;
		op_text[0] = '\0';
		int64_t start = now_ns();
		int r = run_op(&o);
		int64_t end = now_ns();
		if (o.code == OP_MARK && o.a[0] >= 0 && o.a[0] + 1 < NSEXEC_MARKS) {
			start = glassbox_nsexec_marks[o.a[0]];
			end = glassbox_nsexec_marks[o.a[0] + 1];
		}
		// -1 in a timing: failed without an errno (the error message says why).
		if ((o.flags & OPF_TRACE) && start > 0 && end >= start)
			record(index, r < 0 ? (op_err ? op_err : -1) : 0, start, end);
		if (r < 0 && (o.flags & OPF_IGNORE_ERROR))
			r = 0;
		if (r < 0) {
			send_to_parent(MSG_ERROR, index, op_kind, -1);
			_exit(1);
		}
		switch (o.code) {
		case OP_HOOKS:
			send_to_parent(MSG_HOOKS, index, 0, -1);
			wait_continue();
			if (op_err) {
				send_to_parent(MSG_ERROR, index, 0, -1);
				_exit(1);
			}
			break;
		case OP_READY:
			send_to_parent(MSG_READY, index, 0, -1);
			close(sync_fd);
			sync_fd = -1;
			break;
		}
	}
	_exit(1);		// a plan without OP_EXEC
}
