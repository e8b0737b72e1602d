// cshim: the shim's event loop in C (engine/shim's run after the start: the log, the hub and
// the attach server), for a `glassbox run` that never starts Go. Single-threaded, one epoll.
// Its use (testdata/cshim/harness.c does it): fill dir, out, err, first, init, log_max; call
// cshim_listen before the container starts, cshim_serve once it runs, then cshim_finish with
// the exit's payload (cshim_exit_json) once the container is cleaned up.
#ifndef GLASSBOX_CSHIM_H
#define GLASSBOX_CSHIM_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "jsonw.h"

#define CSHIM_MAX_CONNS 64	// attachers at once; one more is hung up on at accept
#define CSHIM_QUEUE_MAX (1 << 20) // bytes of frames queued for one attacher before output is dropped for it
#define CSHIM_READ_MAX (32 << 10) // the Go shim's read buffer: the log's lines are cut the same
#define CSHIM_LINE_CUT (16 << 10) // log.go: a line without end is written once longer than this

struct cshim_conn {
	int fd;			// -1: a free slot
	int state;		// CONN_HELLO, CONN_LIVE, CONN_CLOSING (cshim.c)
	unsigned char hdr[5];	// the frame header being read
	int hdr_got;
	uint32_t left;		// payload bytes of the frame being read still to come
	char *q;		// frames not yet sent: q[head, head+len)
	size_t head, len, cap;
	uint32_t events;	// what epoll watches for
};

struct cshim_stream {
	int fd;
	int eof;
	char *buf;		// the unfinished line, then the read after it (16 KiB + 32 KiB)
	size_t partial;
};

struct cshim {
	const char *dir;	// dir/attach.sock and dir/log.json (a clean path, as filepath.Join makes)
	int out, err;		// read ends of the container's stdout and stderr (cshim sets O_NONBLOCK; the caller closes them)
	int first;		// a connected stream socket subscribed by cshim_listen, sent no hello; -1: none
				// (cshim owns it once cshim_listen succeeded, and closes it in cshim_finish)
	pid_t init;		// the container's init, a child of this process
	void (*first_gone)(void *);	// called once first hangs up (its process went); NULL: none
	void *first_gone_arg;
	int64_t log_max;	// bytes before rotation; 0: 10 MiB
	size_t queue_max;	// bytes queued per attacher; 0: CSHIM_QUEUE_MAX

	// Private: set by cshim_listen.
	char sock[PATH_MAX], log[PATH_MAX];
	int lfd, logfd, epfd, pidfd;
	int64_t log_size;
	struct cshim_stream st[2];
	struct cshim_conn conns[CSHIM_MAX_CONNS];
	struct jbuf line;	// log entries not yet written
	const char *exit;	// the exit frame's payload, once cshim_finish has it
	size_t exit_len;
	int done;
};

// cshim_listen opens dir/log.json (appending, as Go's openLog) and binds and listens on
// dir/attach.sock (mode 0600; a path of 100 bytes or more through /proc/self/fd/N of dir).
// Called before the container starts; 0, or -1 with errno set and nothing left open.
int cshim_listen(struct cshim *s);

// cshim_serve logs and broadcasts the container's output and serves attachers until the init
// has exited and both outputs are at EOF, or 2 s after the init's exit (an output held open by
// a process outside the container). It flushes the log's unfinished lines and returns the
// init's code as the Go shim's reap does: the exit status, 128+signal, -1 unknown. It reaps
// any other child that ends meanwhile (waitpid(-1, WNOHANG): the process is a child
// subreaper, and must have no other child it waits for itself). SIGCHLD and the signal mask are
// left as they are (SIGCHLD must not be SIG_IGN, which reaps the init before it is seen: -1). Without pidfd_open (before Linux 5.3) it polls waitpid every 20 ms.
int cshim_serve(struct cshim *s);

// cshim_finish sends every attacher one exit frame with that payload, waits up to 1 s for the
// frames to be sent (one that attaches meanwhile hears the exit alone), and closes the
// attachers, the listener and the socket's path, and frees what cshim_listen took. It may
// follow cshim_listen without cshim_serve (a start that failed: the first attacher hears it).
void cshim_finish(struct cshim *s, const char *exit_json, size_t len);

// cshim_exit_json appends the exit frame's payload as the Go shim marshals its ExitStatus,
// finished now: {"code":N,"oomKilled":B,"finishedAt":"RFC3339Nano"}.
void cshim_exit_json(struct jbuf *b, int code, int oom_killed);

// Internal, cshim_log.c's: one log entry (held); the n bytes just read after stream's
// unfinished line (written); what is held, written.
void cshim_log_line(struct cshim *s, int stream, const char *p, size_t n);
void cshim_log_write(struct cshim *s, int stream, size_t n);
void cshim_log_flush(struct cshim *s);

#endif
