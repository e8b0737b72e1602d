// The C shim's JSON: the json-lines log (engine/shim/log.go's logWriter, line for line and
// byte for byte) and the exit frame's payload. TestCShim compares both with encoding/json's.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cshim.h"

static const char *const stream_name[2] = { "stdout", "stderr" };

#define PENDING_MAX (64 << 10) // entries held for one write

// log_flush writes the entries held in s->line. They go a read's worth at a time (Go writes
// each alone): the file's bytes are the same, at a write(2) per read instead of per line.
void cshim_log_flush(struct cshim *s)
{
	struct jbuf *b = &s->line;
	for (size_t off = 0; off < b->n && s->logfd >= 0;) {
		ssize_t w = write(s->logfd, b->p + off, b->n - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break; // the rest is lost, as Go's entries are when a write fails
		off += w;
	}
	b->n = 0;
}

// cshim_log_line adds one entry, as log.go's entry: the line as encoding/json writes
// LogEntry, the file rotated first when the entry would take it past log_max.
void cshim_log_line(struct cshim *s, int stream, const char *p, size_t n)
{
	struct jbuf *b = &s->line;
	size_t start = b->n;
	jbuf_puts(b, "{\"stream\":\"");
	jbuf_puts(b, stream_name[stream]);
	jbuf_puts(b, "\",\"time\":\"");
	jbuf_time(b);
	jbuf_puts(b, "\",\"log\":");
	jbuf_string(b, p, n, JSON_MARSHAL);
	jbuf_puts(b, "}\n");
	if (b->oom) {
		b->n = start; // this line is lost, as Go's would be when a write fails
		b->oom = 0;
		return;
	}
	size_t len = b->n - start;
	if (s->log_size + (int64_t)len > s->log_max) {
		// Rotation keeps one old file, as docker's json-file with max-file=2.
		char old[PATH_MAX + 2];
		b->n = start;
		cshim_log_flush(s);
		memmove(b->p, b->p + start, len);
		b->n = len;
		if (s->logfd >= 0)
			close(s->logfd);
		snprintf(old, sizeof(old), "%s.1", s->log);
		rename(s->log, old);
		s->logfd = open(s->log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		s->log_size = 0;
	}
	s->log_size += len;
	if (b->n >= PENDING_MAX)
		cshim_log_flush(s);
}

// cshim_log_write takes the n bytes just read after the stream's unfinished line: one entry per
// line (keeping its "\n", as docker's log field does), the rest kept unless past the cut.
void cshim_log_write(struct cshim *s, int stream, size_t n)
{
	struct cshim_stream *st = &s->st[stream];
	size_t end = st->partial + n, off = 0;
	char *nl;
	while ((nl = memchr(st->buf + off, '\n', end - off)) != NULL) {
		size_t len = (size_t)(nl - (st->buf + off)) + 1;
		cshim_log_line(s, stream, st->buf + off, len);
		off += len;
	}
	if (end - off > CSHIM_LINE_CUT) {
		cshim_log_line(s, stream, st->buf + off, end - off);
		off = end;
	}
	memmove(st->buf, st->buf + off, end - off);
	st->partial = end - off;
	cshim_log_flush(s);
}

void cshim_exit_json(struct jbuf *b, int code, int oom_killed)
{
	char c[32];
	snprintf(c, sizeof(c), "%d", code);
	jbuf_puts(b, "{\"code\":");
	jbuf_puts(b, c);
	jbuf_puts(b, oom_killed ? ",\"oomKilled\":true,\"finishedAt\":\"" : ",\"oomKilled\":false,\"finishedAt\":\"");
	jbuf_time(b);
	jbuf_puts(b, "\"}");
}
