// The exec fast path's events: the lines engine/containers_exec_events.go writes to
// ROOT/events.json, byte for byte ("exec_create: CMD" and "exec_start: CMD" in one O_APPEND
// write, then "exec_die" with the exit code), so that `glassbox events` and its readers
// cannot tell which path ran an exec. TestFastExecEventsMatchGo compares the two.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/random.h>

#include "execfast.h"
#include "jsonw.h"

// put_json is engine's appendJSONString.
static void put_json(struct jbuf *b, const char *s)
{
	jbuf_string(b, s, strlen(s), JSON_EVENTS);
}

static void put_line(struct jbuf *b, struct fast_events *ev, const char *action, int code)
{
	jbuf_puts(b, "{\"time\":\"");
	jbuf_time(b);
	jbuf_puts(b, "\",\"Action\":");
	put_json(b, action);
	jbuf_puts(b, ",\"id\":");
	put_json(b, ev->id);
	jbuf_puts(b, ",\"name\":");
	put_json(b, ev->name);
	jbuf_puts(b, ",\"image\":");
	put_json(b, ev->image);
	jbuf_puts(b, ",\"Attributes\":{\"execID\":");
	put_json(b, ev->exec_id);
	jbuf_puts(b, ",\"name\":");
	put_json(b, ev->name);
	jbuf_puts(b, ",\"image\":");
	put_json(b, ev->image);
	if (code >= 0) {
		char c[32];
		snprintf(c, sizeof(c), "%d", code);
		jbuf_puts(b, ",\"exitCode\":");
		put_json(b, c);
	}
	jbuf_puts(b, "}}\n");
}

int fast_events_init(struct fast_events *ev, const char *root, struct fast_record *r, char **cmd, int ncmd)
{
	unsigned char rnd[32];
	memset(ev, 0, sizeof(*ev));
	if (snprintf(ev->path, sizeof(ev->path), "%s/events.json", root) >= (int)sizeof(ev->path))
		return -1;
	if (getrandom(rnd, sizeof(rnd), 0) != sizeof(rnd))
		return -1;
	for (int i = 0; i < 32; i++)
		snprintf(ev->exec_id + 2 * i, 3, "%02x", rnd[i]);
	ev->id = r->id;
	ev->name = r->name + (r->name[0] == '/');
	ev->image = r->image;
	struct jbuf b = { 0 };
	for (int i = 0; i < ncmd; i++) {
		if (i > 0)
			jbuf_put(&b, " ", 1);
		jbuf_puts(&b, cmd[i]);
	}
	jbuf_put(&b, "", 1);
	if (b.oom) {
		free(b.p);
		return -1;
	}
	ev->cmd = b.p;
	return 0;
}

// append writes whole lines with one O_APPEND write; an event that cannot be written is
// dropped, as Go's append drops it.
static void append(struct fast_events *ev, struct jbuf *b)
{
	if (!b->oom) {
		int fd = open(ev->path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
		if (fd >= 0) {
			if (write(fd, b->p, b->n) < 0) {
				// dropped
			}
			close(fd);
		}
	}
	free(b->p);
}

void fast_events_started(struct fast_events *ev)
{
	struct jbuf b = { 0 }, action = { 0 };
	jbuf_puts(&action, "exec_create: ");
	jbuf_puts(&action, ev->cmd);
	jbuf_put(&action, "", 1);
	if (!action.oom)
		put_line(&b, ev, action.p, -1);
	action.n = 0;
	jbuf_puts(&action, "exec_start: ");
	jbuf_puts(&action, ev->cmd);
	jbuf_put(&action, "", 1);
	if (!action.oom)
		put_line(&b, ev, action.p, -1);
	b.oom |= action.oom;
	free(action.p);
	append(ev, &b);
}

void fast_events_died(struct fast_events *ev, int code)
{
	struct jbuf b = { 0 };
	put_line(&b, ev, "exec_die", code);
	append(ev, &b);
}
