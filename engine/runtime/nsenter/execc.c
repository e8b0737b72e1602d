// The steps from a process inside the target to the program's execve, in C: the target's
// root and working directory, the terminal, rlimits, capabilities, user, no_new_privs. They
// are entry.go's (enterRoot, setupConsole, applySecurity, execvp) step for step, in the order
// runc's init uses; errors go to the caller as entry.go's do, as an execReply on the request
// socket: {"code":127,"error":"exec \"x\": executable file not found in $PATH"}.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <termios.h>

#include "execc.h"
#include "kernel_compat.h"


#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

static int request_fd = -1;

// errstr is strerror as Go spells it (lower case first letter), so both halves say the same.
static const char *errstr(int err)
{
	static char buf[128];
	snprintf(buf, sizeof(buf), "%s", strerror(err));
	if (buf[0] >= 'A' && buf[0] <= 'Z' && !(buf[1] >= 'A' && buf[1] <= 'Z'))
		buf[0] += 'a' - 'A';
	return buf;
}

// reply sends {"code":N,"error":"..."} to the caller and exits with the code.
__attribute__((noreturn, format(printf, 2, 3)))
static void reply(int code, const char *fmt, ...)
{
	char msg[2048], out[4096 + 64];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	int n = snprintf(out, sizeof(out), "{\"code\":%d,\"error\":\"", code);
	for (const unsigned char *p = (const unsigned char *)msg; *p && n < (int)sizeof(out) - 16; p++) {
		if (*p == '"' || *p == '\\')
			n += snprintf(out + n, sizeof(out) - n, "\\%c", *p);
		else if (*p < 0x20)
			n += snprintf(out + n, sizeof(out) - n, "\\u%04x", *p);
		else
			out[n++] = *p;
	}
	n += snprintf(out + n, sizeof(out) - n, "\"}");
	if (write(request_fd, out, n) < 0)
		dprintf(2, "glassbox: %s\n", msg);
	_exit(code);
}

static void enter_root(struct exec_cfg *e)
{
	if (e->root_fd >= 0) {
		if (fchdir(e->root_fd) < 0)
			reply(125, "enter the target's root: fchdir: %s", errstr(errno));
		if (chroot(".") < 0)
			reply(125, "enter the target's root: chroot: %s", errstr(errno));
		if (chdir("/") < 0)
			reply(125, "enter the target's root: chdir /: %s", errstr(errno));
		close(e->root_fd);
	}
	if (e->cwd[0] != '\0') {
		if (chdir(e->cwd) < 0)
			reply(125, "chdir %s: %s", e->cwd, errstr(errno));
	} else if (e->cwd_fd >= 0) {
		if (fchdir(e->cwd_fd) < 0)
			reply(125, "enter the target's working directory: fchdir: %s", errstr(errno));
		// A directory outside the new root would let the program walk out with ".."
		// (CVE-2024-21626): getcwd(2) then does not start with "/".
		char wd[4096];
		if (getcwd(wd, sizeof(wd)) == NULL || wd[0] != '/')
			if (chdir("/") < 0)
				reply(125, "chdir /: %s", errstr(errno));
	}
	if (e->cwd_fd >= 0)
		close(e->cwd_fd);
}

// setup_console opens a terminal from the /dev/ptmx this process sees (the target's devpts),
// sends its master to the caller and makes the slave the controlling terminal and stdio.
static void setup_console(struct exec_cfg *e)
{
	int master = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (master < 0)
		reply(125, "open /dev/ptmx: %s", errstr(errno));
	int unlock = 0;
	if (ioctl(master, TIOCSPTLCK, &unlock) < 0)
		reply(125, "unlock pty: %s", errstr(errno));
	// Without a path: one under /dev/pts could be swapped by a process in the target.
	int slave = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (slave < 0)
		reply(125, "open the pty's peer: %s", errstr(errno));
	if (e->rows > 0 && e->cols > 0) {
		struct winsize ws = { .ws_row = e->rows, .ws_col = e->cols };
		if (ioctl(master, TIOCSWINSZ, &ws) < 0)
			reply(125, "set console size: %s", errstr(errno));
	}
	char word[] = "console";
	struct iovec iov = { word, sizeof(word) - 1 };
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	memset(&u, 0, sizeof(u));
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof(u.buf) };
	struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &master, sizeof(int));
	if (sendmsg(request_fd, &msg, 0) < 0)
		reply(125, "send console: %s", errstr(errno));
	close(master);
	if (setsid() < 0)
		reply(125, "setsid: %s", errstr(errno));
	if (ioctl(slave, TIOCSCTTY, 0) < 0)
		reply(125, "set controlling terminal: %s", errstr(errno));
	for (int fd = 0; fd < 3; fd++)
		if (dup3(slave, fd, 0) < 0)
			reply(125, "dup console to %d: %s", fd, errstr(errno));
	close(slave);
	// The terminal is the program's, as login(1) and runc make it.
	if ((e->flags & EXEC_USER) && fchown(0, e->uid, (gid_t)-1) < 0)
		reply(125, "chown console to uid %u: %s", e->uid, errstr(errno));
}

static int has_cap(uint64_t set, int cap)
{
	return cap < 64 && (set >> cap) & 1;
}

// load_seccomp installs the program. Before no_new_privs it needs CAP_SYS_ADMIN, which is why
// apply_security loads it before dropping capabilities then (seccomp(2)), as runc does.
static void load_seccomp(struct exec_cfg *e)
{
	if (e->seccomp_len == 0)
		return;
	struct sock_fprog prog = { .len = e->seccomp_len, .filter = (struct sock_filter *)e->seccomp_filter };
	if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, e->seccomp_flags, &prog) < 0)
		reply(125, "seccomp: load filter: %s", errstr(errno));
}

static void apply_security(struct exec_cfg *e)
{
	for (int i = 0; i < e->nrlimits; i++) {
		struct rlimit rl = { e->rlimits[i].soft, e->rlimits[i].hard };
		if (setrlimit(e->rlimits[i].resource, &rl) < 0)
			reply(125, "setrlimit %u %llu:%llu: %s", e->rlimits[i].resource, (unsigned long long)rl.rlim_cur,
			      (unsigned long long)rl.rlim_max, errstr(errno));
	}
	if (!(e->flags & EXEC_NNP))
		load_seccomp(e);
	int caps = e->flags & EXEC_CAPS;
	if (caps) {
		// PR_CAPBSET_READ fails with EINVAL past the kernel's last capability.
		for (int c = 0; prctl(PR_CAPBSET_READ, c, 0, 0, 0) >= 0; c++)
			if (!has_cap(e->caps[CAPS_BOUNDING], c) && prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0)
				reply(125, "drop bounding capabilities: prctl PR_CAPBSET_DROP %d: %s", c, errstr(errno));
	}
	if (e->flags & EXEC_USER) {
		if (caps && prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
			reply(125, "prctl PR_SET_KEEPCAPS: %s", errstr(errno));
		// Refused in a user namespace whose setgroups says deny: with no groups asked for,
		// leaving them alone is what runc does there too.
		if (syscall(SYS_setgroups, e->ngroups, e->groups) < 0 && !(errno == EPERM && e->ngroups == 0))
			reply(125, "setgroups: %s", errstr(errno));
		if (syscall(SYS_setresgid, e->gid, e->gid, e->gid) < 0)
			reply(125, "setresgid %u: %s", e->gid, errstr(errno));
		if (syscall(SYS_setresuid, e->uid, e->uid, e->uid) < 0)
			reply(125, "setresuid %u: %s", e->uid, errstr(errno));
		if (caps)
			prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0);
	}
	if (caps) {
		struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
		struct __user_cap_data_struct data[2];
		for (int i = 0; i < 2; i++) {
			data[i].effective = (uint32_t)(e->caps[CAPS_EFFECTIVE] >> (32 * i));
			data[i].permitted = (uint32_t)(e->caps[CAPS_PERMITTED] >> (32 * i));
			data[i].inheritable = (uint32_t)(e->caps[CAPS_INHERITABLE] >> (32 * i));
		}
		if (syscall(SYS_capset, &hdr, data) < 0)
			reply(125, "set capabilities: capset: %s", errstr(errno));
		if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
			reply(125, "prctl PR_CAP_AMBIENT_CLEAR_ALL: %s", errstr(errno));
		// An ambient capability that is not both permitted and inheritable cannot be raised
		// (EPERM): runc only warns (`runc spec` writes such a config), as the init does.
		for (int c = 0; c < 64; c++)
			if (has_cap(e->caps[CAPS_AMBIENT], c) && prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, c, 0, 0) < 0 && errno != EINVAL && errno != EPERM)
				reply(125, "raise ambient capability %d: %s", c, errstr(errno));
	}
	if (e->flags & EXEC_NNP) {
		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
			reply(125, "prctl PR_SET_NO_NEW_PRIVS: %s", errstr(errno));
		load_seccomp(e);
	}
}

static const char *env_value(char **envp, const char *key)
{
	size_t n = strlen(key);
	const char *v = NULL;
	for (char **p = envp; *p; p++)
		if (strncmp(*p, key, n) == 0 && (*p)[n] == '=')
			v = *p + n + 1;	// the last one wins, as in Go's lookupEnv
	return v;
}

// exec_program is execvp(3) with docker's statuses: 127 when nothing was found, 126 when
// something found could not be executed.
__attribute__((noreturn))
static void exec_program(struct exec_cfg *e)
{
	const char *file = e->argv[0];
	if (strchr(file, '/') != NULL) {
		execve(file, e->argv, e->envp);
		int err = errno;
		reply(err == ENOENT || err == ENOTDIR ? 127 : 126, "exec %s: %s", file, errstr(err));
	}
	const char *search = env_value(e->envp, "PATH");
	if (search == NULL || search[0] == '\0')
		search = DEFAULT_PATH;
	char path[4096];
	int denied = 0;
	char denied_path[4096] = "";
	for (const char *dir = search;;) {
		const char *colon = strchrnul(dir, ':');
		int dlen = colon - dir;
		if (dlen == 0)
			snprintf(path, sizeof(path), "./%s", file);
		else
			snprintf(path, sizeof(path), "%.*s/%s", dlen, dir, file);
		execve(path, e->argv, e->envp);
		int err = errno;
		if (err == EACCES) {
			if (!denied)
				snprintf(denied_path, sizeof(denied_path), "%s", path);
			denied = 1;
		} else if (err != ENOENT && err != ENOTDIR && err != ESTALE) {
			reply(126, "exec %s: %s", path, errstr(err));
		}
		if (*colon == '\0')
			break;
		dir = colon + 1;
	}
	if (denied)
		reply(126, "exec %s: %s", denied_path, errstr(EACCES));
	reply(127, "exec \"%s\": executable file not found in $PATH", file);
}

void glassbox_exec_finish(struct exec_cfg *e)
{
	request_fd = e->request_fd;
	enter_root(e);
	if (e->flags & EXEC_TTY)
		setup_console(e);
	apply_security(e);
	// Everything but stdio and the caller's preserved descriptors (3 up to the request
	// socket, process.go) stays behind, the request socket included: its end tells the
	// caller the program runs.
	for (int fd = 3; fd < e->request_fd; fd++)
		if (fcntl(fd, F_SETFD, 0) < 0)
			reply(125, "preserved descriptor %d: fcntl F_SETFD: %s", fd, errstr(errno));
	if (syscall(SYS_close_range, e->request_fd, ~0U, CLOSE_RANGE_CLOEXEC) < 0)
		reply(125, "close_range: %s", errstr(errno));
	exec_program(e);
}

int glassbox_exec_append(void **arr, int *n, size_t size, const void *item)
{
	char *a = realloc(*arr, (*n + 2) * size);
	if (a == NULL) {
		errno = ENOMEM;
		return -1;
	}
	memcpy(a + *n * size, item, size);
	(*n)++;
	memset(a + *n * size, 0, size);
	*arr = a;
	return 0;
}

// record_string returns the NUL-terminated string at the start of [p, p+len), NULL when the
// record holds none.
static char *record_string(char *p, uint32_t len)
{
	return memchr(p, '\0', len) == NULL ? NULL : p;
}

int glassbox_exec_record(struct exec_cfg *e, uint32_t type, char *p, uint32_t len)
{
	errno = EINVAL;
	switch (type) {
	case REC_EXEC:
		if (len < 68 || record_string(p + 68, len - 68) == NULL)
			return -1;
		memcpy(&e->request_fd, p, 4);
		memcpy(&e->root_fd, p + 4, 4);
		memcpy(&e->cwd_fd, p + 8, 4);
		memcpy(&e->flags, p + 12, 4);
		memcpy(&e->rows, p + 16, 2);
		memcpy(&e->cols, p + 18, 2);
		memcpy(&e->uid, p + 20, 4);
		memcpy(&e->gid, p + 24, 4);
		memcpy(e->caps, p + 28, 8 * CAPS_SETS);
		e->cwd = p + 68;
		e->present = 1;
		return 0;
	case REC_EXEC_ARG:
	case REC_EXEC_ENV:{
			char *s = record_string(p, len);
			if (s == NULL)
				return -1;
			void *a = type == REC_EXEC_ARG ? (void *)e->argv : (void *)e->envp;
			int r = glassbox_exec_append(&a, type == REC_EXEC_ARG ? &e->argc : &e->envc, sizeof(char *), &s);
			if (type == REC_EXEC_ARG)
				e->argv = a;
			else
				e->envp = a;
			return r;
		}
	case REC_EXEC_GROUP:
		if (len < 4)
			return -1;
		{
			void *a = e->groups;
			int r = glassbox_exec_append(&a, &e->ngroups, sizeof(uint32_t), p);
			e->groups = a;
			return r;
		}
	case REC_EXEC_SECCOMP:
		// sock_fprog.len is 16 bits: a longer program would be cut to a prefix of itself
		// (the kernel takes BPF_MAXINSNS at most anyway).
		if (len < 4 + 8 || (len - 4) % 8 != 0 || (len - 4) / 8 > BPF_MAXINSNS)
			return -1;
		memcpy(&e->seccomp_flags, p, 4);
		e->seccomp_filter = p + 4;
		e->seccomp_len = (len - 4) / 8;
		return 0;
	case REC_EXEC_RLIMIT:
		if (len < sizeof(struct exec_rlimit))
			return -1;
		// Copied out: p need not be aligned for struct exec_rlimit.
		{
			struct exec_rlimit rl;
			void *a = e->rlimits;
			memcpy(&rl, p, sizeof(rl));
			int r = glassbox_exec_append(&a, &e->nrlimits, sizeof(rl), &rl);
			e->rlimits = a;
			return r;
		}
	}
	return 1;
}
