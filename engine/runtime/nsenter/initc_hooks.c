// The C init's startContainer hooks (runtime-spec config.md, "startContainer"): run inside the
// container's namespaces after Start and before the program, each with the container's state
// on its stdin, as engine/runtime's hooks.go runs them for the Go init: args as given (the
// path alone when none), the hook's env (empty when none: the init's own environment is
// empty), stdout and stderr collected to quote in the error, a timeout in seconds. The plan
// lists them (OP_START_HOOK, stashed until initc_exec), the parent sends the state once the
// init is ready (the container's PID is known only then).
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "initc_internal.h"

static struct op *hooks;
static int nhooks;
static char *state;
static size_t statelen;

int initc_stash_hook(struct op *o)
{
	struct op *h = realloc(hooks, (nhooks + 1) * sizeof(*hooks));
	if (h == NULL)
		return initc_fail(ENOMEM, "startContainer hook");
	hooks = h;
	hooks[nhooks++] = *o;
	return 0;
}

int initc_has_start_hooks(void)
{
	return nhooks > 0;
}

// initc_recv_state takes the state the parent sends after MSG_READY (one SOCK_SEQPACKET
// message, its length peeked first).
int initc_recv_state(int sock)
{
	ssize_t n;
	do
		n = recv(sock, NULL, 0, MSG_PEEK | MSG_TRUNC);
	while (n < 0 && errno == EINTR);
	if (n <= 0 || n > (1 << 24))
		return initc_fail(n < 0 ? errno : EPROTO, "sync: read state for startContainer hooks");
	state = malloc(n);
	if (state == NULL)
		return initc_fail(ENOMEM, "sync: read state for startContainer hooks");
	do
		statelen = recv(sock, state, n, 0);
	while ((ssize_t)statelen < 0 && errno == EINTR);
	if ((ssize_t)statelen != n)
		return initc_fail(errno, "sync: read state for startContainer hooks");
	return 0;
}

static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

// run_hook runs one hook; on failure initc_text says why (hooks.go's wording).
static int run_hook(struct op *h)
{
	int in[2], out[2];
	if (pipe2(in, O_CLOEXEC) < 0)
		return initc_fail(errno, "pipe");
	if (pipe2(out, O_CLOEXEC) < 0) {
		int err = errno;
		close(in[0]);
		close(in[1]);
		return initc_fail(err, "pipe");
	}
	char **argv = initc_split_list(h->s[1], h->n[1], h->s[0]);
	char **envp = initc_split_list(h->s[2], h->n[2], NULL);
	pid_t pid = fork();
	if (pid == 0) {
		// Only the pipes: every descriptor from 3 is close-on-exec (CVE-2024-21626).
		if (dup2(in[0], 0) < 0 || dup2(out[1], 1) < 0 || dup2(out[1], 2) < 0)
			_exit(127);
		if (syscall(SYS_close_range, 3, ~0U, CLOSE_RANGE_CLOEXEC) < 0 || signal(SIGPIPE, SIG_DFL) == SIG_ERR)
			_exit(127);
		execve(h->s[0], argv, envp);
		dprintf(2, "fork/exec %s: %s", h->s[0], strerror(errno));
		_exit(127);
	}
	int err = errno;
	free(argv);
	free(envp);
	close(in[0]);
	close(out[1]);
	if (pid < 0) {
		close(in[1]);
		close(out[0]);
		return initc_fail(err, "fork");
	}
	// Non-blocking: a hook that reads no stdin must not stall the init on a large state.
	if (fcntl(in[1], F_SETFL, O_NONBLOCK) < 0) {
		err = errno;
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		close(in[1]);
		close(out[0]);
		return initc_fail(err, "fcntl O_NONBLOCK");
	}
	char output[4096 + 1];
	size_t outlen = 0, written = 0;
	int64_t deadline = h->a[0] > 0 ? mono_ms() + h->a[0] * 1000 : -1, grace = -1;
	int status = 0, reaped = 0, timed_out = 0, wfd = in[1], rfd = out[0];
	while (rfd >= 0 || !reaped) {
		if (!reaped && waitpid(pid, &status, WNOHANG) == pid) {
			reaped = 1;
			grace = mono_ms() + 1000;	// a daemon it left may hold the output open: 1 s
		}
		int64_t now = mono_ms();
		if (deadline >= 0 && now >= deadline && !reaped && !timed_out) {
			kill(pid, SIGKILL);
			timed_out = 1;
		}
		if (reaped && (rfd < 0 || now >= grace))
			break;
		struct pollfd p[2] = { { rfd, POLLIN, 0 }, { wfd, POLLOUT, 0 } };
		if (poll(p, 2, 50) < 0 && errno != EINTR)
			break;
		if (wfd >= 0 && (p[1].revents & (POLLOUT | POLLERR | POLLHUP))) {
			ssize_t n = write(wfd, state + written, statelen - written);
			if (n > 0)
				written += n;
			if ((n < 0 && errno != EAGAIN && errno != EINTR) || written == statelen) {
				close(wfd);
				wfd = -1;
			}
		}
		if (rfd >= 0 && (p[0].revents & (POLLIN | POLLERR | POLLHUP))) {
			char buf[4096];
			ssize_t n = read(rfd, buf, sizeof(buf));
			if (n > 0 && outlen < sizeof(output) - 1) {
				size_t take = (size_t)n < sizeof(output) - 1 - outlen ? (size_t)n : sizeof(output) - 1 - outlen;
				memcpy(output + outlen, buf, take);
				outlen += take;
			}
			if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN)) {
				close(rfd);
				rfd = -1;
			}
		}
	}
	if (wfd >= 0)
		close(wfd);
	if (rfd >= 0)
		close(rfd);
	if (!reaped)
		waitpid(pid, &status, 0);
	if (!timed_out && WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	char why[64];
	if (timed_out)
		snprintf(why, sizeof(why), "timed out after %llds", (long long)h->a[0]);
	else if (WIFEXITED(status))
		snprintf(why, sizeof(why), "exit status %d", WEXITSTATUS(status));
	else
		snprintf(why, sizeof(why), "signal: %s", strsignal(WTERMSIG(status)));
	while (outlen > 0 && (output[outlen - 1] == '\n' || output[outlen - 1] == ' '))
		outlen--;
	output[outlen] = '\0';
	if (outlen > 0)
		return initc_fail(0, "%s: %s", why, output);
	return initc_fail(0, "%s", why);
}

// initc_start_hooks runs the stashed hooks in order; the first failure stops them, worded
// "hook N (PATH): ..." as hooks.go's RunHooks.
int initc_start_hooks(void)
{
	// A hook that exits without reading its stdin must not kill the init with SIGPIPE; the
	// default goes back before execve (an ignored signal would stay ignored in the program).
	if (signal(SIGPIPE, SIG_IGN) == SIG_ERR)
		return initc_fail(errno, "signal SIGPIPE");
	int r = 0;
	for (int i = 0; i < nhooks && r == 0; i++)
		if (run_hook(&hooks[i]) < 0) {
			char why[sizeof(initc_text)];
			memcpy(why, initc_text, sizeof(why));
			r = initc_fail(0, "hook %d (%s): %s", i, hooks[i].s[0], why);
		}
	if (signal(SIGPIPE, SIG_DFL) == SIG_ERR && r == 0)
		r = initc_fail(errno, "signal SIGPIPE");
	return r;
}
