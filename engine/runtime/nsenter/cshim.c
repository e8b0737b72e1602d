// The C shim's event loop: what engine/shim's run does once the container is started (the
// json-lines log of log.go, in cshim_log.c, the hub and attach server of attach.go, the frames of
// protocol.go, reap), in one thread on one epoll, for the run fast path that never starts Go.
// TestCShim (cshim_test.go) holds it to the Go side: engine/shim's Dial and ReadFrame attach
// to it, and its log lines are compared with encoding/json's.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/wait.h>

#include "cshim.h"
#include "kernel_compat.h"

// An attacher is CONN_HELLO until its hello frame is read (Go's serve: nothing is sent to it
// before), CONN_LIVE while subscribed, CONN_CLOSING once it is sent nothing new (it hung up,
// or it was given the exit): its queue is flushed, then it is closed (Go's stream).
enum { CONN_HELLO, CONN_LIVE, CONN_CLOSING };
enum { FRAME_STDOUT = 4, FRAME_STDERR = 5, FRAME_EXIT = 6, FRAME_HELLO = 7 };

#define MAX_FRAME (1u << 20)	// protocol.go's maxFrame: a longer frame is an error
#define EXIT_ROOM 4096		// kept free in every queue for the exit frame (Go keeps a slot)
#define QUEUE_MIN (64 << 10)

enum { TAG_LISTEN = 1, TAG_PIDFD = 2, TAG_STREAM = 3 /* and 4 */, TAG_CONN = 16 };

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int ep_ctl(struct cshim *s, int op, int fd, uint32_t events, uint64_t tag)
{
	struct epoll_event ev = { .events = events, .data.u64 = tag };
	return epoll_ctl(s->epfd, op, fd, &ev);
}

// ---- attachers (attach.go's hub and stream) ----

static void conn_close(struct cshim *s, struct cshim_conn *c)
{
	// The caller's connection ends before the exit frame: it went (or was killed).
	if (c->fd == s->first && s->first >= 0) {
		s->first = -1;
		if (!s->done && s->first_gone != NULL)
			s->first_gone(s->first_gone_arg);
	}
	// Removed by hand: the caller's first connection may have another descriptor open.
	epoll_ctl(s->epfd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	free(c->q);
	memset(c, 0, sizeof(*c));
	c->fd = -1;
}

// conn_queue appends to c's queue, which grows to limit, or past it by what must go whole.
static int conn_queue(struct cshim_conn *c, const void *p, size_t n, size_t limit)
{
	if (c->head + c->len + n > c->cap) {
		if (c->len > 0)
			memmove(c->q, c->q + c->head, c->len);
		c->head = 0;
		if (c->len + n > c->cap) {
			size_t cap = c->cap ? c->cap * 2 : QUEUE_MIN;
			if (cap > limit)
				cap = limit;
			if (cap < c->len + n)
				cap = c->len + n;
			char *q = realloc(c->q, cap);
			if (q == NULL)
				return -1;
			c->q = q;
			c->cap = cap;
		}
	}
	memcpy(c->q + c->head + c->len, p, n);
	c->len += n;
	return 0;
}

// conn_flush sends what is queued, as much as the socket takes now; a closing attacher whose
// queue is empty is closed. -1: c is closed.
static int conn_flush(struct cshim *s, struct cshim_conn *c)
{
	while (c->len > 0) {
		ssize_t w = send(c->fd, c->q + c->head, c->len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (w <= 0) {
			conn_close(s, c); // Go's stream: a failed write ends the attacher
			return -1;
		}
		c->head += w;
		c->len -= w;
	}
	if (c->len == 0 && c->state == CONN_CLOSING) {
		conn_close(s, c);
		return -1;
	}
	uint32_t ev = (c->state != CONN_CLOSING ? EPOLLIN : 0) | (c->len > 0 ? EPOLLOUT : 0);
	if (ev != c->events && ep_ctl(s, EPOLL_CTL_MOD, c->fd, ev, TAG_CONN + (c - s->conns)) == 0)
		c->events = ev;
	return 0;
}

// conn_frame sends one frame to c, or queues it behind what waits. Output that does not fit
// the queue is dropped for this attacher: a gap in what it shows, never a stall of the
// container or the log (Go's hub.broadcast). The exit frame (force) always fits.
static void conn_frame(struct cshim *s, struct cshim_conn *c, int typ, const void *p, size_t n, int force)
{
	unsigned char hdr[5] = { typ, n >> 24, n >> 16, n >> 8, n };
	size_t sent = 0;
	if (c->len == 0) {
		struct iovec iov[2] = { { hdr, 5 }, { (void *)p, n } };
		struct msghdr m = { .msg_iov = iov, .msg_iovlen = 2 };
		ssize_t w;
		do
			w = sendmsg(c->fd, &m, MSG_NOSIGNAL | MSG_DONTWAIT);
		while (w < 0 && errno == EINTR);
		if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
			conn_close(s, c);
			return;
		}
		sent = w < 0 ? 0 : (size_t)w;
	} else if (!force && c->len + 5 + n > s->queue_max - EXIT_ROOM) {
		return;
	}
	// What is left of a frame begun is queued whole, past the cap if need be (at most one
	// read's worth): a frame cut short would garble the stream.
	int r = 0;
	if (sent < 5)
		r = conn_queue(c, hdr + sent, 5 - sent, s->queue_max);
	if (r == 0 && sent < 5 + n)
		r = conn_queue(c, (const char *)p + (sent > 5 ? sent - 5 : 0), n - (sent > 5 ? sent - 5 : 0),
			       s->queue_max);
	if (r < 0) {
		conn_close(s, c);
		return;
	}
	conn_flush(s, c);
}

// conn_hangup: the attacher's side ended or broke protocol. One not yet subscribed is closed
// (Go's serve); a live one gets nothing new, what it was given is still sent (Go's
// hub.remove closes the channel, and stream drains it).
static void conn_hangup(struct cshim *s, struct cshim_conn *c)
{
	if (c->state == CONN_HELLO) {
		conn_close(s, c);
		return;
	}
	c->state = CONN_CLOSING;
	conn_flush(s, c);
}

// conn_hello subscribes an attacher once its hello came: after the exit, it gets the exit
// alone (Go's hub.add once done). Its payload ("stdin") does not matter: there is no input.
static void conn_hello(struct cshim *s, struct cshim_conn *c)
{
	if (!s->done) {
		c->state = CONN_LIVE;
		return;
	}
	c->state = CONN_CLOSING;
	conn_frame(s, c, FRAME_EXIT, s->exit, s->exit_len, 1);
}

// conn_read reads one chunk from an attacher and walks its frames: the hello first, then
// input frames, which are skipped (the run fast path has no stdin, as a Go shim without
// OpenStdin has no pipe). Whatever ends a Go ReadFrame (EOF, an error, a frame over the
// limit, a first frame that is no hello) is a hang-up.
static void conn_read(struct cshim *s, struct cshim_conn *c)
{
	unsigned char buf[4096];
	ssize_t r = recv(c->fd, buf, sizeof(buf), MSG_DONTWAIT);
	if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return;
	if (r <= 0) {
		conn_hangup(s, c);
		return;
	}
	for (size_t i = 0; i < (size_t)r && c->fd >= 0 && c->state != CONN_CLOSING;) {
		if (c->hdr_got < 5) {
			c->hdr[c->hdr_got++] = buf[i++];
			if (c->hdr_got < 5)
				continue;
			c->left = (uint32_t)c->hdr[1] << 24 | (uint32_t)c->hdr[2] << 16 | (uint32_t)c->hdr[3] << 8 | c->hdr[4];
			if (c->left > MAX_FRAME || (c->state == CONN_HELLO && c->hdr[0] != FRAME_HELLO)) {
				conn_hangup(s, c);
				return;
			}
		} else {
			size_t take = (size_t)r - i < c->left ? (size_t)r - i : c->left;
			i += take;
			c->left -= take;
		}
		if (c->left == 0) {
			c->hdr_got = 0;
			if (c->state == CONN_HELLO)
				conn_hello(s, c);
		}
	}
}

static int conn_add(struct cshim *s, int fd, int state)
{
	for (int i = 0; i < CSHIM_MAX_CONNS; i++) {
		struct cshim_conn *c = &s->conns[i];
		if (c->fd >= 0)
			continue;
		if (ep_ctl(s, EPOLL_CTL_ADD, fd, EPOLLIN, TAG_CONN + i) < 0)
			return -1;
		memset(c, 0, sizeof(*c));
		c->fd = fd;
		c->state = state;
		c->events = EPOLLIN;
		return i;
	}
	errno = EMFILE;
	return -1;
}

// conn_accept takes every pending connection and reads a hello already sent, so that an
// attacher that connected before the start is subscribed before any output is read.
static void conn_accept(struct cshim *s)
{
	for (;;) {
		int fd = accept4(s->lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (fd < 0 && (errno == EINTR || errno == ECONNABORTED))
			continue;
		if (fd < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
			// EMFILE and the like: stop accepting, as the Go shim's accept loop does on any
			// error, rather than wake for the same pending connection forever.
			epoll_ctl(s->epfd, EPOLL_CTL_DEL, s->lfd, NULL);
		}
		if (fd < 0)
			return;
		int i = conn_add(s, fd, CONN_HELLO);
		if (i < 0)
			close(fd); // past CSHIM_MAX_CONNS: hung up on, as on a failed hello
		else
			conn_read(s, &s->conns[i]);
	}
}

static void broadcast(struct cshim *s, int typ, const char *p, size_t n)
{
	for (int i = 0; i < CSHIM_MAX_CONNS; i++)
		if (s->conns[i].fd >= 0 && s->conns[i].state == CONN_LIVE)
			conn_frame(s, &s->conns[i], typ, p, n, 0);
}

static void dispatch_conn(struct cshim *s, struct cshim_conn *c, uint32_t events)
{
	if (c->fd < 0)
		return; // closed earlier in this batch
	if (c->state != CONN_CLOSING && (events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
		conn_read(s, c);
	if (c->fd >= 0 && (events & (EPOLLOUT | EPOLLHUP | EPOLLERR)))
		conn_flush(s, c);
}

// ---- setup ----

static int listen_attach(struct cshim *s)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int dirfd = -1;
	unlink(s->sock); // a socket left by an earlier start (Go's os.Remove)
	if (strlen(s->sock) < 100) {
		memcpy(a.sun_path, s->sock, strlen(s->sock) + 1);
	} else {
		// sun_path holds 108 bytes (unix(7)): a longer path goes through the directory's
		// descriptor, which the kernel resolves like any path (protocol.go's socketPath).
		dirfd = open(s->dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (dirfd < 0)
			return -1;
		snprintf(a.sun_path, sizeof(a.sun_path), "/proc/self/fd/%d/attach.sock", dirfd);
	}
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0), bound = 0;
	if (fd >= 0 && ((bound = bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0) == 0 || listen(fd, 4096) < 0)) {
		int e = errno;
		if (bound)
			unlink(s->sock);
		close(fd);
		errno = e;
		fd = -1;
	}
	int e = errno;
	if (dirfd >= 0)
		close(dirfd);
	if (fd >= 0)
		chmod(s->sock, 0600);
	errno = e;
	return fd;
}

static void release(struct cshim *s)
{
	if (s->lfd >= 0)
		close(s->lfd);
	if (s->logfd >= 0)
		close(s->logfd);
	if (s->epfd >= 0)
		close(s->epfd);
	if (s->pidfd >= 0)
		close(s->pidfd);
	for (int i = 0; i < 2; i++)
		free(s->st[i].buf);
	free(s->line.p);
	s->lfd = s->logfd = s->epfd = s->pidfd = -1;
	s->st[0].buf = s->st[1].buf = NULL;
	s->line.p = NULL;
}

int cshim_listen(struct cshim *s)
{
	s->lfd = s->logfd = s->epfd = s->pidfd = -1;
	memset(s->st, 0, sizeof(s->st));
	s->st[0].fd = s->st[1].fd = -1;
	s->st[0].eof = s->st[1].eof = 1; // until cshim_serve watches them
	memset(&s->line, 0, sizeof(s->line));
	for (int i = 0; i < CSHIM_MAX_CONNS; i++)
		s->conns[i].fd = -1;
	s->done = 0;
	s->exit = NULL;
	s->exit_len = 0;
	if (s->log_max <= 0)
		s->log_max = 10 << 20;
	if (s->queue_max == 0)
		s->queue_max = CSHIM_QUEUE_MAX;
	if (s->queue_max < QUEUE_MIN)
		s->queue_max = QUEUE_MIN;
	int n1 = snprintf(s->sock, sizeof(s->sock), "%s/attach.sock", s->dir);
	int n2 = snprintf(s->log, sizeof(s->log), "%s/log.json", s->dir);
	if (n1 < 0 || n2 < 0 || (size_t)n1 >= sizeof(s->sock) || (size_t)n2 >= sizeof(s->log) - 2) {
		errno = ENAMETOOLONG;
		return -1;
	}
	struct stat st;
	s->logfd = open(s->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (s->logfd < 0 || fstat(s->logfd, &st) < 0)
		goto fail;
	s->log_size = st.st_size;
	for (int i = 0; i < 2; i++)
		if ((s->st[i].buf = malloc(CSHIM_LINE_CUT + CSHIM_READ_MAX)) == NULL)
			goto fail;
	s->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (s->epfd < 0)
		goto fail;
	if ((s->lfd = listen_attach(s)) < 0)
		goto fail;
	if (ep_ctl(s, EPOLL_CTL_ADD, s->lfd, EPOLLIN, TAG_LISTEN) < 0 ||
	    (s->first >= 0 && conn_add(s, s->first, CONN_LIVE) < 0)) {
		int e = errno;
		unlink(s->sock);
		errno = e;
		goto fail;
	}
	return 0;
fail:;
	int e = errno;
	release(s);
	errno = e;
	return -1;
}

// ---- the loop ----

// reap waits for every child that has ended (orphans of the container come to a subreaper)
// without blocking; the init's status becomes its code as Go's reap reports it.
static void reap(struct cshim *s, int *exited, int *code)
{
	for (;;) {
		int ws;
		pid_t pid = waitpid(-1, &ws, WNOHANG);
		if (pid < 0 && errno == EINTR)
			continue;
		if (pid < 0 && !*exited) {
			*exited = 1; // ECHILD: the init was not our child after all
			*code = -1;
		}
		if (pid <= 0)
			return;
		if (pid == s->init && !*exited) {
			*exited = 1;
			*code = WIFEXITED(ws) ? WEXITSTATUS(ws) : WIFSIGNALED(ws) ? 128 + WTERMSIG(ws) : -1;
		}
	}
}

static void stream_read(struct cshim *s, int i)
{
	struct cshim_stream *st = &s->st[i];
	ssize_t r = read(st->fd, st->buf + st->partial, CSHIM_READ_MAX);
	if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return;
	if (r <= 0) { // EOF: the last writer is gone (Go's copier stops on any error too)
		st->eof = 1;
		epoll_ctl(s->epfd, EPOLL_CTL_DEL, st->fd, NULL);
		return;
	}
	broadcast(s, i == 0 ? FRAME_STDOUT : FRAME_STDERR, st->buf + st->partial, r);
	cshim_log_write(s, i, r);
}

// wait_events waits up to timeout ms for what the epoll watches and handles it.
static void wait_events(struct cshim *s, int timeout)
{
	struct epoll_event evs[16];
	int n = epoll_wait(s->epfd, evs, 16, timeout);
	if (n < 0 && errno != EINTR)
		usleep(20000); // cannot happen with a valid epoll fd; no busy loop if it does
	for (int k = 0; k < n; k++) {
		uint64_t tag = evs[k].data.u64;
		if (tag == TAG_LISTEN)
			conn_accept(s);
		else if ((tag == TAG_STREAM || tag == TAG_STREAM + 1) && !s->st[tag - TAG_STREAM].eof)
			stream_read(s, tag - TAG_STREAM);
		else if (tag >= TAG_CONN && tag < TAG_CONN + CSHIM_MAX_CONNS)
			dispatch_conn(s, &s->conns[tag - TAG_CONN], evs[k].events);
	}
}

int cshim_serve(struct cshim *s)
{
	int exited = 0, code = -1;
	int64_t deadline = 0;
	// pidfd_open(2): readable once the init has exited, without SIGCHLD, whose disposition
	// and mask are the caller's. Without one (ENOSYS), the loop polls waitpid instead.
	s->pidfd = (int)syscall(SYS_pidfd_open, s->init, 0);
	if (s->pidfd >= 0 && ep_ctl(s, EPOLL_CTL_ADD, s->pidfd, EPOLLIN, TAG_PIDFD) < 0) {
		close(s->pidfd);
		s->pidfd = -1;
	}
	int fds[2] = { s->out, s->err };
	for (int i = 0; i < 2; i++) {
		struct cshim_stream *st = &s->st[i];
		st->fd = fds[i];
		st->eof = 1;
		int fl = st->fd >= 0 ? fcntl(st->fd, F_GETFL) : -1;
		if (fl >= 0 && fcntl(st->fd, F_SETFL, fl | O_NONBLOCK) == 0 &&
		    ep_ctl(s, EPOLL_CTL_ADD, st->fd, EPOLLIN, TAG_STREAM + i) == 0)
			st->eof = 0;
	}
	conn_accept(s);
	for (;;) {
		reap(s, &exited, &code);
		if (exited && deadline == 0) {
			// The output ends when the last writer in the container is gone: with a pid
			// namespace, now. A process outside it must not hold the shim: 2 s, as Go.
			deadline = now_ms() + 2000;
			if (s->pidfd >= 0) {
				epoll_ctl(s->epfd, EPOLL_CTL_DEL, s->pidfd, NULL);
				close(s->pidfd);
				s->pidfd = -1;
			}
		}
		if (exited && s->st[0].eof && s->st[1].eof)
			break;
		// Idle, the loop wakes once a second for orphans that ended (no SIGCHLD here).
		int timeout = s->pidfd >= 0 ? 1000 : 20;
		if (exited) {
			int64_t left = deadline - now_ms();
			if (left <= 0)
				break;
			timeout = left < timeout ? (int)left : timeout;
		}
		wait_events(s, timeout);
	}
	for (int i = 0; i < 2; i++) {
		if (!s->st[i].eof)
			epoll_ctl(s->epfd, EPOLL_CTL_DEL, s->st[i].fd, NULL);
		s->st[i].eof = 1;
		if (s->st[i].partial > 0)
			cshim_log_line(s, i, s->st[i].buf, s->st[i].partial);
		s->st[i].partial = 0;
	}
	cshim_log_flush(s);
	close(s->logfd);
	s->logfd = -1;
	return code;
}

void cshim_finish(struct cshim *s, const char *exit_json, size_t len)
{
	s->done = 1;
	s->exit = exit_json;
	s->exit_len = len;
	for (int i = 0; i < CSHIM_MAX_CONNS; i++) {
		struct cshim_conn *c = &s->conns[i];
		if (c->fd >= 0 && c->state == CONN_LIVE) {
			c->state = CONN_CLOSING;
			conn_frame(s, c, FRAME_EXIT, exit_json, len, 1);
		}
	}
	// Go's srv.drain: up to 1 s for every attacher to be sent its frames, the exit last (one
	// that comes meanwhile hears the exit alone).
	for (int64_t deadline = now_ms() + 1000;;) {
		int open = 0;
		for (int i = 0; i < CSHIM_MAX_CONNS; i++)
			open += s->conns[i].fd >= 0;
		int64_t left = deadline - now_ms();
		if (open == 0 || left <= 0)
			break;
		wait_events(s, (int)left);
	}
	for (int i = 0; i < CSHIM_MAX_CONNS; i++)
		if (s->conns[i].fd >= 0)
			conn_close(s, &s->conns[i]);
	unlink(s->sock);
	release(s);
}
