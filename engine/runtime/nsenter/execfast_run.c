// The exec fast path's run, checked by execfast.c. This process (the CLI, in the host's
// namespaces) forks the process that enters the container and becomes the program; it stays
// to relay stdio through pipes (the program gets no descriptor of the caller's: a host
// terminal would let it push input with TIOCSTI), to forward signals as cmd/glassbox/exec.go
// does, and to write the events and exit with the program's status.
//
// The entering process is this binary until its execve, inside the container: it is made
// non-dumpable before it joins anything, so that a process there cannot open its
// /proc/PID/exe, descriptors or memory (ptrace access checks; its mm belongs to the host's
// user namespace, where the container has no CAP_SYS_PTRACE: execfast.c leaves containers
// that might to Go). The execve replaces the binary before anything of the container's runs
// as this process.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "execfast.h"
#include "kernel_compat.h"


static int child_request = -1;

// child_fail ends the entering process before its program ran; the parent hands the exec to
// Go, which does it again and reports what fails.
__attribute__((noreturn))
static void child_fail(void)
{
	static const char msg[] = "{\"code\":125,\"error\":\"fast path\"}";
	if (write(child_request, msg, sizeof(msg) - 1) < 0)
		_exit(125);
	_exit(125);
}

// set_env is engine.setEnv: K=V replaces the first K=, or is added.
static void set_env(struct exec_cfg *e, const char *kv)
{
	size_t klen = strchr(kv, '=') - kv;
	for (int i = 0; i < e->envc; i++)
		if (strncmp(e->envp[i], kv, klen + 1) == 0) {
			e->envp[i] = (char *)kv;
			return;
		}
	void *a = e->envp;
	if (glassbox_exec_append(&a, &e->envc, sizeof(char *), &kv) < 0)
		child_fail();
	e->envp = a;
}

__attribute__((noreturn))
static void child(struct fast_args *a, struct fast_record *r, struct fast_target *t, int req, int fds[3], const sigset_t *mask)
{
	child_request = req;
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
		child_fail();
	if (sigprocmask(SIG_SETMASK, mask, NULL) < 0)
		child_fail();
	// Go's exec starts its helper with every signal at its default action (its runtime
	// catches them all, and execve resets a caught one); one the caller ignored would stay
	// ignored through execve, in the program.
	struct sigaction dfl = { .sa_handler = SIG_DFL };
	sigemptyset(&dfl.sa_mask);
	for (int sig = 1; sig < NSIG; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			sigaction(sig, &dfl, NULL);	// EINVAL for the C library's own: left as they are
	for (int fd = 0; fd < 3; fd++)
		if (dup2(fds[fd], fd) < 0)
			child_fail();
	// The cgroups first, by their host paths: the program is born counted in them.
	for (int i = 0; i < r->ncgroups; i++) {
		int fd = open(r->cgroups[i], O_WRONLY | O_CLOEXEC);
		if (fd < 0 || write(fd, "0", 1) != 1)
			child_fail();
		close(fd);
	}
	// setns(2) with a pidfd joins all the types at once, the user namespace first, or none.
	uint32_t flags = t->ns_flags & ~(CLONE_NEWPID | CLONE_NEWTIME);
	if (flags & CLONE_NEWUSER)
		setgroups(0, NULL);	// as nsexec.c: drop the host's groups while allowed
	if (flags != 0 && setns(t->pidfd, flags) < 0)
		child_fail();
	if (flags & CLONE_NEWUSER) {
		if (setresgid(0, 0, 0) < 0 || (setgroups(0, NULL) < 0 && errno != EPERM) || setresuid(0, 0, 0) < 0)
			child_fail();
	}
	close(t->pidfd);
	// glassbox_exec_finish hands the program every descriptor from 3 up to the request
	// socket (the caller's --preserve-fds come there, process.go); a fast exec preserves
	// none, so the request socket moves to 3, clear of the root directory's descriptor, and
	// everything else here is closed on execve.
	int root = t->root_fd;
	if (root == 3 && (root = fcntl(root, F_DUPFD_CLOEXEC, 4)) < 0)
		child_fail();
	if (req != 3) {
		if (dup3(req, 3, O_CLOEXEC) < 0)
			child_fail();
		req = child_request = 3;
	}
	struct exec_cfg *e = &r->exec;
	e->request_fd = req;
	e->root_fd = root;
	e->cwd_fd = -1;
	e->flags &= ~EXEC_TTY;
	if (a->workdir != NULL && a->workdir[0] != '\0')
		e->cwd = a->workdir;
	e->argv = a->cmd;
	e->argc = a->ncmd;
	for (int i = 0; i < a->nenv; i++)
		set_env(e, a->env[i]);
	if (e->envp == NULL) {
		static char *no_env[] = { NULL };
		e->envp = no_env;
	}
	glassbox_exec_finish(e);
}

// term_pidfd is the program's pidfd for on_term; term_killed says it was killed.
static int term_pidfd = -1;
static volatile sig_atomic_t term_killed;

// on_term is exec.go's SIGTERM and SIGHUP: the program is killed. A handler, not the
// signalfd: it interrupts a write to a caller that does not read (no SA_RESTART), which
// would otherwise hold this process, and the program, forever.
static void on_term(int sig)
{
	int saved = errno;
	syscall(SYS_pidfd_send_signal, term_pidfd, SIGKILL, NULL, 0);
	term_killed = 1;
	errno = saved;
}

// write_all writes to one of the caller's descriptors, which may be non-blocking; once the
// program is killed, what it wrote is dropped.
static int write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		if (term_killed)
			return -1;
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno == EAGAIN) {
			struct pollfd pfd = { fd, POLLOUT, 0 };
			poll(&pfd, 1, -1);
			continue;
		}
		if (w <= 0)
			return -1;
		p += w;
		n -= w;
	}
	return 0;
}

// copy_out moves what is in the pipe *from to the caller's fd; at its end, or when the caller
// no longer takes it (the program then gets EPIPE, as it would writing there itself), the
// pipe is closed.
static void copy_out(int *from, int to)
{
	char buf[65536];
	for (;;) {
		ssize_t n = read(*from, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n <= 0 || write_all(to, buf, n) < 0) {
			close(*from);
			*from = -1;
			return;
		}
		if ((size_t)n < sizeof(buf))
			return;
	}
}

struct relay {
	int sfd, pidfd, out, err, in_w, stdin_open;
	char inbuf[65536];
	size_t inlen, inoff;
};

static void close_stdin(struct relay *x)
{
	if (x->in_w >= 0)
		close(x->in_w);
	x->in_w = -1;
	x->stdin_open = 0;
}

// relay runs until the program ends and returns its wait status.
static int relay(struct relay *x, pid_t pid)
{
	for (;;) {
		struct pollfd p[5];
		int n = 0, isig = -1, ipid = -1, iout = -1, ierr = -1, iin = -1;
		isig = n;
		p[n++] = (struct pollfd) { x->sfd, POLLIN, 0 };
		ipid = n;
		p[n++] = (struct pollfd) { x->pidfd, POLLIN, 0 };
		if (x->out >= 0) {
			iout = n;
			p[n++] = (struct pollfd) { x->out, POLLIN, 0 };
		}
		if (x->err >= 0) {
			ierr = n;
			p[n++] = (struct pollfd) { x->err, POLLIN, 0 };
		}
		if (x->in_w >= 0 && x->inoff < x->inlen) {
			iin = n;
			p[n++] = (struct pollfd) { x->in_w, POLLOUT, 0 };
		} else if (x->in_w >= 0 && x->stdin_open) {
			iin = n;
			p[n++] = (struct pollfd) { 0, POLLIN, 0 };
		}
		if (poll(p, n, -1) < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (iout >= 0 && p[iout].revents)
			copy_out(&x->out, 1);
		if (ierr >= 0 && p[ierr].revents)
			copy_out(&x->err, 2);
		if (iin >= 0 && p[iin].revents) {
			if (x->inoff < x->inlen) {
				ssize_t w = write(x->in_w, x->inbuf + x->inoff, x->inlen - x->inoff);
				if (w > 0)
					x->inoff += w;
				else if (w < 0 && errno != EAGAIN && errno != EINTR)
					close_stdin(x);	// the program closed its stdin
			} else {
				ssize_t r = read(0, x->inbuf, sizeof(x->inbuf));
				if (r > 0) {
					x->inlen = r;
					x->inoff = 0;
				} else if (r == 0 || (errno != EAGAIN && errno != EINTR)) {
					close_stdin(x);	// end of input: the program reads its end
				}
			}
		}
		if (p[isig].revents) {
			// exec.go: SIGINT and SIGQUIT reach the program from the terminal (it is in this
			// process group); SIGTERM and SIGHUP are on_term's.
			struct signalfd_siginfo si;
			while (read(x->sfd, &si, sizeof(si)) == sizeof(si))
				;
		}
		if (p[ipid].revents) {
			int status;
			while (waitpid(pid, &status, 0) < 0)
				if (errno != EINTR)
					return -1;
			// All the program wrote is in the pipes now; what a process it left behind
			// writes later is not waited for.
			if (x->out >= 0)
				copy_out(&x->out, 1);
			if (x->err >= 0)
				copy_out(&x->err, 2);
			return status;
		}
	}
}

static void trace(void)
{
	const char *path = getenv("GLASSBOX_EXEC_TRACE");
	if (path == NULL || path[0] == '\0')
		return;
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd >= 0) {
		if (write(fd, "c", 1) < 0) {
			// a test marker: nothing to do
		}
		close(fd);
	}
}

// unescape undoes execc.c's reply escaping (\" \\ \u00XX) in place.
static void unescape(char *s)
{
	char *out = s;
	for (; *s; s++) {
		if (s[0] == '\\' && s[1] == 'u' && s[2] && s[3] && s[4] && s[5]) {
			char hex[5] = { s[2], s[3], s[4], s[5], 0 };
			*out++ = (char)strtol(hex, NULL, 16);
			s += 5;
		} else if (s[0] == '\\' && s[1]) {
			*out++ = s[1];
			s++;
		} else {
			*out++ = *s;
		}
	}
	*out = '\0';
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

// restore_for_children puts this process's children back in its own PID and time namespaces.
static int restore_for_children(int own[2])
{
	int r = 0;
	if (own[0] >= 0 && setns(own[0], CLONE_NEWPID) < 0)
		r = -1;
	if (own[1] >= 0 && setns(own[1], CLONE_NEWTIME) < 0)
		r = -1;
	close_fd(&own[0]);
	close_fd(&own[1]);
	return r;
}

void fast_run(struct fast_args *a, struct fast_record *r, struct fast_target *t)
{
	int in[2] = { -1, -1 }, out[2] = { -1, -1 }, err[2] = { -1, -1 }, req[2] = { -1, -1 }, own[2] = { -1, -1 };
	int sfd = -1, pidfd = -1;
	pid_t pid = -1;
	sigset_t block, watch, old;
	struct fast_events ev;
	char msg[4096];

	if (fast_events_init(&ev, a->root, r, a->cmd, a->ncmd) < 0)
		return;
	sigemptyset(&watch);
	sigaddset(&watch, SIGINT);
	sigaddset(&watch, SIGQUIT);
	sigaddset(&watch, SIGTERM);
	sigaddset(&watch, SIGHUP);
	block = watch;
	sigaddset(&block, SIGPIPE);	// a caller gone away is a write error, not this process's end
	if (sigprocmask(SIG_BLOCK, &block, &old) < 0) {
		free(ev.cmd);
		return;
	}
	sfd = signalfd(-1, &watch, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sfd < 0 || pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0 || pipe2(err, O_CLOEXEC) < 0 ||
	    socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, req) < 0 ||
	    fcntl(out[0], F_SETFL, O_NONBLOCK) < 0 || fcntl(err[0], F_SETFL, O_NONBLOCK) < 0 || fcntl(in[1], F_SETFL, O_NONBLOCK) < 0)
		goto fallback;
	// setns of a PID or time namespace moves this process's children only; the child is
	// forked into them, and this process put back at once.
	uint32_t for_children = t->ns_flags & (CLONE_NEWPID | CLONE_NEWTIME);
	if (((for_children & CLONE_NEWPID) && (own[0] = open("/proc/self/ns/pid", O_RDONLY | O_CLOEXEC)) < 0) ||
	    ((for_children & CLONE_NEWTIME) && (own[1] = open("/proc/self/ns/time", O_RDONLY | O_CLOEXEC)) < 0))
		goto fallback;
	if (for_children != 0 && setns(t->pidfd, for_children) < 0)
		goto fallback;
	pid = fork();
	if (pid == 0) {
		int fds[3] = { in[0], out[1], err[1] };
		close(in[1]);
		close(out[0]);
		close(err[0]);
		close(req[0]);
		close(sfd);
		child(a, r, t, req[1], fds, &old);
	}
	if (restore_for_children(own) < 0) {
		// Go would start its helpers in the container's PID namespace: it must not run.
		dprintf(2, "glassbox: exec %s: setns back into the caller's pid namespace: %s\n", a->ref, strerror(errno));
		if (pid > 0)
			kill(pid, SIGKILL);
		_exit(125);
	}
	if (pid < 0)
		goto fallback;
	close_fd(&in[0]);
	close_fd(&out[1]);
	close_fd(&err[1]);
	close_fd(&req[1]);
	close_fd(&t->root_fd);
	if (!a->interactive)
		close_fd(&in[1]);	// stdin is a pipe at its end, as /dev/null would be
	pidfd = syscall(SYS_pidfd_open, pid, 0);

	// The program runs when the request socket closes on its execve; a message before says
	// why it did not.
	ssize_t n;
	do
		n = recv(req[0], msg, sizeof(msg) - 1, 0);
	while (n < 0 && errno == EINTR);
	if (n > 0) {
		msg[n] = '\0';
		int code = 125;
		char *text = strstr(msg, "\"error\":\"");
		sscanf(msg, "{\"code\":%d", &code);
		int status;
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
		pid = -1;
		if ((code != 126 && code != 127) || text == NULL)
			goto fallback;
		text += 9;
		size_t len = strlen(text);
		if (len >= 2 && strcmp(text + len - 2, "\"}") == 0)
			text[len - 2] = '\0';
		unescape(text);
		trace();
		fast_events_started(&ev);
		fast_events_died(&ev, code);
		dprintf(2, "glassbox: exec %s: %s\n", a->ref, text);
		_exit(code);
	}
	close_fd(&req[0]);
	trace();
	fast_events_started(&ev);
	if (pidfd < 0) {
		// Cannot watch it: wait for it without relaying (its pipes may fill up).
		dprintf(2, "glassbox: exec %s: pidfd_open %d: %s\n", a->ref, pid, strerror(errno));
		kill(pid, SIGKILL);
	}
	if (pidfd >= 0) {
		struct sigaction sa = { .sa_handler = on_term };
		sigset_t term;
		sigemptyset(&sa.sa_mask);
		sigemptyset(&term);
		sigaddset(&term, SIGTERM);
		sigaddset(&term, SIGHUP);
		term_pidfd = pidfd;
		if (sigaction(SIGTERM, &sa, NULL) < 0 || sigaction(SIGHUP, &sa, NULL) < 0 || sigprocmask(SIG_UNBLOCK, &term, NULL) < 0)
			dprintf(2, "glassbox: exec %s: SIGTERM and SIGHUP will not reach the command: %s\n", a->ref, strerror(errno));
	}
	struct relay x = { .sfd = sfd, .pidfd = pidfd, .out = out[0], .err = err[0], .in_w = in[1], .stdin_open = a->interactive };
	int status = pidfd >= 0 ? relay(&x, pid) : -1;
	if (status == -1)
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
	int code = WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
	fast_events_died(&ev, code);
	_exit(term_killed ? 128 + SIGKILL : code);

fallback:
	if (pid > 0) {
		kill(pid, SIGKILL);
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
	}
	restore_for_children(own);
	int *fds[] = { &in[0], &in[1], &out[0], &out[1], &err[0], &err[1], &req[0], &req[1], &sfd, &pidfd };
	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++)
		close_fd(fds[i]);
	sigprocmask(SIG_SETMASK, &old, NULL);
	free(ev.cmd);
}
