// The C init's process steps (initc.c runs them): the console, seccomp, capabilities, user,
// the program's lookup and the exec after Start, init.go, caps.go and console.go step for step.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <grp.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <termios.h>

#include "initc_internal.h"

// initc_console is console.go's: a pty from the container's own devpts, its master sent to the
// parent, the slave bound over /dev/console and made the controlling terminal and stdio.
int initc_console(struct op *o)
{
	int master = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (master < 0)
		return initc_fail(errno, "open /dev/ptmx");
	int unlock = 0;
	if (ioctl(master, TIOCSPTLCK, &unlock) < 0)
		return initc_fail(errno, "unlock pty");
	// TIOCGPTPEER opens the slave without a path a process in the container could swap.
	int slave = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (slave < 0)
		return initc_fail(errno, "open pty slave");
	if (o->a[0] > 0 && o->a[1] > 0) {
		struct winsize ws = { .ws_row = o->a[0], .ws_col = o->a[1] };
		if (ioctl(master, TIOCSWINSZ, &ws) < 0)
			return initc_fail(errno, "set console size");
	}
	initc_err = 0;
	initc_send(MSG_CONSOLE, -1, 0, master);
	close(master);
	// Over a file or a character device only, the node checked here and mounted on by its
	// descriptor (CVE-2025-52565: not a path looked up again); a symlink, a FIFO (whose open
	// for writing would block) or a directory is left alone.
	int fd = open("/dev/console", O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT) {
		int f = open("/dev/console", O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (f >= 0) {
			close(f);
			fd = open("/dev/console", O_PATH | O_NOFOLLOW | O_CLOEXEC);
		}
	}
	struct stat st;
	if (fd >= 0 && fstat(fd, &st) == 0 && (S_ISREG(st.st_mode) || S_ISCHR(st.st_mode))) {
		char p[64], q[64];
		if (mount(initc_fd_path(slave, p, sizeof(p)), initc_fd_path(fd, q, sizeof(q)), "", MS_BIND, NULL) < 0) {
			int err = errno;
			close(fd);
			return initc_fail(err, "bind pty slave on /dev/console");
		}
	}
	if (fd >= 0)
		close(fd);
	if (setsid() < 0)
		return initc_fail(errno, "setsid");
	if (ioctl(slave, TIOCSCTTY, 0) < 0)
		return initc_fail(errno, "set controlling terminal");
	for (int i = 0; i < 3; i++)
		if (dup3(slave, i, 0) < 0)
			return initc_fail(errno, "dup pty slave to %d", i);
	close(slave);
	return 0;
}

// initc_seccomp loads prog (u32 flags, struct sock_filter[]); an empty prog is no filter. A
// program of a partial instruction, or of more than the kernel's BPF_MAXINSNS (sock_fprog's
// u16 length would drop the rest), is refused rather than loaded cut short.
int initc_seccomp(const char *prog, uint32_t len)
{
	uint32_t flags;
	if (len == 0)
		return 0;
	if (len < 4 + 8 || (len - 4) % 8 != 0 || (len - 4) / 8 > BPF_MAXINSNS)
		return initc_fail(EINVAL, "seccomp: load filter");
	memcpy(&flags, prog, 4);
	struct sock_fprog fprog = { .len = (len - 4) / 8, .filter = (struct sock_filter *)(prog + 4) };
	if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &fprog) < 0)
		return initc_fail(errno, "seccomp: load filter");
	return 0;
}

int initc_bounding(uint64_t keep)
{
	// PR_CAPBSET_READ fails with EINVAL past the kernel's last capability.
	for (int c = 0; prctl(PR_CAPBSET_READ, c, 0, 0, 0) >= 0; c++)
		if (!(c < 64 && (keep >> c) & 1) && prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0)
			return initc_fail(errno, "set bounding capabilities");
	return 0;
}

// initc_user is caps.go's setUser: groups, gid, uid, keeping the permitted capabilities across
// setresuid (PR_SET_KEEPCAPS) so that initc_caps can set them for the new user.
int initc_user(struct op *o)
{
	uint32_t ngroups = o->n[0] / 4;
	if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
		return initc_fail(errno, "prctl PR_SET_KEEPCAPS");
	if (o->a[2] || ngroups > 0) {
		// Copied out of the plan: its strings have no alignment.
		gid_t *groups = calloc(ngroups + 1, sizeof(gid_t));
		if (groups == NULL)
			return initc_fail(ENOMEM, "setgroups");
		memcpy(groups, o->s[0], ngroups * sizeof(gid_t));
		long r = syscall(SYS_setgroups, ngroups, groups);
		int err = errno;
		free(groups);
		if (r < 0 && !(err == EPERM && ngroups == 0))
			return initc_fail(err, "setgroups");
	}
	if (syscall(SYS_setresgid, (gid_t)o->a[1], (gid_t)o->a[1], (gid_t)o->a[1]) < 0)
		return initc_fail(errno, "setresgid %lld", (long long)o->a[1]);
	if (syscall(SYS_setresuid, (uid_t)o->a[0], (uid_t)o->a[0], (uid_t)o->a[0]) < 0)
		return initc_fail(errno, "setresuid %lld", (long long)o->a[0]);
	if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0)
		return initc_fail(errno, "prctl PR_SET_KEEPCAPS");
	if (o->a[3] >= 0)
		umask(o->a[3]);
	return 0;
}

int initc_caps(struct op *o)
{
	struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct data[2];
	for (int i = 0; i < 2; i++) {
		data[i].effective = (uint32_t)((uint64_t)o->a[0] >> (32 * i));
		data[i].permitted = (uint32_t)((uint64_t)o->a[1] >> (32 * i));
		data[i].inheritable = (uint32_t)((uint64_t)o->a[2] >> (32 * i));
	}
	if (syscall(SYS_capset, &hdr, data) < 0)
		return initc_fail(errno, "set capabilities");
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
		initc_kind = KIND_NOT_FOUND;
		return initc_fail(errno, "exec %s", p);
	}
	initc_kind = KIND_NOT_EXECUTABLE;
	if (S_ISDIR(st.st_mode))
		return initc_fail(0, "exec %s: is a directory", p);
	if (access(p, X_OK) < 0)
		return initc_fail(errno, "exec %s", p);
	initc_kind = KIND_NONE;
	return 0;
}

// initc_lookup finds the program as execvp(3) would, at create time, so that a missing program
// fails the create with 127 as runc's does.
int initc_lookup(struct op *o)
{
	const char *file = o->s[0];
	if (strchr(file, '/') != NULL) {
		snprintf(initc_program, sizeof(initc_program), "%s", file);
		return check_program(file);
	}
	int denied = 0, denied_err = 0;
	char denied_text[sizeof(initc_text)] = "";
	for (const char *dir = o->s[1];;) {
		const char *colon = strchrnul(dir, ':');
		int dlen = colon - dir;
		if (dlen == 0)
			snprintf(initc_program, sizeof(initc_program), "./%s", file);
		else
			snprintf(initc_program, sizeof(initc_program), "%.*s/%s", dlen, dir, file);
		if (check_program(initc_program) == 0)
			return 0;
		if (initc_kind == KIND_NOT_EXECUTABLE && !denied) {
			denied = 1;
			denied_err = initc_err;
			memcpy(denied_text, initc_text, sizeof(initc_text));
		}
		if (*colon == '\0')
			break;
		dir = colon + 1;
	}
	if (denied) {
		initc_kind = KIND_NOT_EXECUTABLE;
		return initc_fail(denied_err, "%s", denied_text);
	}
	initc_kind = KIND_NOT_FOUND;
	return initc_fail(0, "exec \"%s\": executable file not found in $PATH", file);
}

char **initc_split_list(const char *s, uint32_t len, const char *def)
{
	int n = 0;
	for (uint32_t i = 0; i < len; i++)
		if (s[i] == '\0')
			n++;
	char **v = calloc(n + 2, sizeof(char *));
	if (v == NULL)
		_exit(1);
	if (n == 0)
		v[0] = (char *)def;
	for (int i = 0; i < n; i++) {
		v[i] = (char *)s;
		s += strlen(s) + 1;
	}
	return v;
}

__attribute__((noreturn, format(printf, 2, 3)))
void initc_exit_after_ready(int code, const char *fmt, ...)
{
	char msg[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	dprintf(2, "glassbox: init: %s\n", msg);
	_exit(code);
}

// initc_exec is init.go's exec: wait for Start on the exec fifo, then execute the program with
// only stdio open. The fifo's write end stays open (close-on-exec) until execve succeeds, so
// that Start, reading to its end, sees when the program took over.
__attribute__((noreturn))
void initc_exec(struct op *o)
{
	char path[64];
	// The constructor made the init non-dumpable, which makes /proc/self/fd root's and closed
	// to a non-root user: it must be dumpable to reopen the fifo. execve makes it so anyway;
	// until then no other process of the container exists.
	if (prctl(PR_SET_DUMPABLE, 1, 0, 0, 0) < 0)
		initc_exit_after_ready(126, "prctl PR_SET_DUMPABLE: %s", strerror(errno));
	snprintf(path, sizeof(path), "/proc/self/fd/%d", (int)o->a[0]);
	int fifo = open(path, O_WRONLY | O_CLOEXEC);
	if (fifo < 0)
		initc_exit_after_ready(126, "open exec fifo: %s", strerror(errno));
	if (write(fifo, "", 1) != 1)
		initc_exit_after_ready(126, "write exec fifo: %s", strerror(errno));
	close(o->a[0]);
	if (initc_has_start_hooks() && initc_start_hooks() < 0)
		initc_exit_after_ready(126, "startContainer hook: %s", initc_text);
	// Descriptors 3 to 3+a1-1 are the caller's preserved ones (runc's --preserve-fds).
	int preserved = o->a[1] > 0 && o->a[1] < INT_MAX - 3 ? (int)o->a[1] : 0;
	for (int fd = 3; fd < 3 + preserved; fd++)
		if (fcntl(fd, F_SETFD, 0) < 0)
			initc_exit_after_ready(126, "preserved descriptor %d: fcntl F_SETFD: %s", fd, strerror(errno));
	if (syscall(SYS_close_range, 3 + preserved, ~0U, CLOSE_RANGE_CLOEXEC) < 0)
		initc_exit_after_ready(126, "close_range: %s", strerror(errno));
	if (initc_seccomp(o->s[2], o->n[2]) < 0)
		initc_exit_after_ready(126, "linux.seccomp: seccomp: load filter: %s", strerror(initc_err));
	char **argv = initc_split_list(o->s[0], o->n[0], NULL);
	char **envp = initc_split_list(o->s[1], o->n[1], NULL);
	// --init: the program is the init's child, forked under every restriction it has.
	if (o->a[2] & EXEC_REAPER)
		initc_reaper_fork(fifo);
	execve(initc_program, argv, envp);
	int err = errno;
	initc_exit_after_ready(err == ENOENT || err == ENOTDIR ? 127 : 126, "exec %s: %s", initc_program, strerror(err));
}
