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

struct sbuf {
	char *p;
	size_t n, cap;
	int oom;
};

static void put(struct sbuf *b, const void *s, size_t n)
{
	if (b->oom)
		return;
	if (b->n + n + 1 > b->cap) {
		size_t cap = (b->n + n + 1) * 2;
		char *p = realloc(b->p, cap);
		if (p == NULL) {
			b->oom = 1;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->n, s, n);
	b->n += n;
}

static void puts_(struct sbuf *b, const char *s)
{
	put(b, s, strlen(s));
}

// utf8_len is the length of the valid UTF-8 sequence at s (n bytes left), 0 when s does not
// start one: Go's decoding, which takes such a byte alone as U+FFFD (RFC 3629's table:
// no overlong forms, no surrogates, nothing past U+10FFFF).
static int utf8_len(const unsigned char *s, size_t n)
{
	unsigned char c = s[0], lo = 0x80, hi = 0xBF;
	int len;
	if (c < 0x80)
		return 1;
	if (c >= 0xC2 && c <= 0xDF)
		len = 2;
	else if (c >= 0xE0 && c <= 0xEF) {
		len = 3;
		if (c == 0xE0)
			lo = 0xA0;
		if (c == 0xED)
			hi = 0x9F;
	} else if (c >= 0xF0 && c <= 0xF4) {
		len = 4;
		if (c == 0xF0)
			lo = 0x90;
		if (c == 0xF4)
			hi = 0x8F;
	} else
		return 0;
	if ((size_t)len > n || s[1] < lo || s[1] > hi)
		return 0;
	for (int i = 2; i < len; i++)
		if (s[i] < 0x80 || s[i] > 0xBF)
			return 0;
	return len;
}

// put_json is appendJSONString: quotes, backslashes and control characters escaped, bytes
// that are not UTF-8 replaced by U+FFFD.
static void put_json(struct sbuf *b, const char *str)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t n = strlen(str);
	put(b, "\"", 1);
	for (size_t i = 0; i < n;) {
		int l = utf8_len(s + i, n - i);
		if (l == 0) {
			put(b, "\xEF\xBF\xBD", 3);
			i++;
			continue;
		}
		if (s[i] == '"' || s[i] == '\\') {
			char esc[2] = { '\\', s[i] };
			put(b, esc, 2);
		} else if (s[i] < 0x20) {
			char esc[8];
			snprintf(esc, sizeof(esc), "\\u%04x", s[i]);
			put(b, esc, 6);
		} else {
			put(b, s + i, l);
		}
		i += l;
	}
	put(b, "\"", 1);
}

// put_time is time.Now().UTC() in RFC 3339 with nanoseconds, as Go's RFC3339Nano writes
// it: trailing zeros of the fraction dropped, and the dot with them.
static void put_time(struct sbuf *b)
{
	struct timespec ts;
	char s[64];
	clock_gettime(CLOCK_REALTIME, &ts);
	// The civil date of the day (H. Hinnant's days_from_civil inverse), not gmtime_r: glibc's
	// loads /etc/localtime on first use even for UTC.
	int64_t days = ts.tv_sec / 86400, secs = ts.tv_sec % 86400;
	if (secs < 0) {
		secs += 86400;
		days--;
	}
	int64_t z = days + 719468, era = (z >= 0 ? z : z - 146096) / 146097;
	int64_t doe = z - era * 146097;
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100), mp = (5 * doy + 2) / 153;
	int64_t day = doy - (153 * mp + 2) / 5 + 1, month = mp < 10 ? mp + 3 : mp - 9;
	int64_t year = yoe + era * 400 + (month <= 2);
	int n = snprintf(s, sizeof(s), "%04lld-%02lld-%02lldT%02lld:%02lld:%02lld", (long long)year, (long long)month,
			 (long long)day, (long long)(secs / 3600), (long long)(secs / 60 % 60), (long long)(secs % 60));
	if (ts.tv_nsec != 0) {
		char frac[16];
		snprintf(frac, sizeof(frac), ".%09ld", ts.tv_nsec);
		int len = 10;
		while (frac[len - 1] == '0')
			len--;
		memcpy(s + n, frac, len);
		n += len;
	}
	s[n++] = 'Z';
	put(b, s, n);
}

static void put_line(struct sbuf *b, struct fast_events *ev, const char *action, int code)
{
	puts_(b, "{\"time\":\"");
	put_time(b);
	puts_(b, "\",\"Action\":");
	put_json(b, action);
	puts_(b, ",\"id\":");
	put_json(b, ev->id);
	puts_(b, ",\"name\":");
	put_json(b, ev->name);
	puts_(b, ",\"image\":");
	put_json(b, ev->image);
	puts_(b, ",\"Attributes\":{\"execID\":");
	put_json(b, ev->exec_id);
	puts_(b, ",\"name\":");
	put_json(b, ev->name);
	puts_(b, ",\"image\":");
	put_json(b, ev->image);
	if (code >= 0) {
		char c[32];
		snprintf(c, sizeof(c), "%d", code);
		puts_(b, ",\"exitCode\":");
		put_json(b, c);
	}
	puts_(b, "}}\n");
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
	struct sbuf b = { 0 };
	for (int i = 0; i < ncmd; i++) {
		if (i > 0)
			put(&b, " ", 1);
		puts_(&b, cmd[i]);
	}
	put(&b, "", 1);
	if (b.oom) {
		free(b.p);
		return -1;
	}
	ev->cmd = b.p;
	return 0;
}

// append writes whole lines with one O_APPEND write; an event that cannot be written is
// dropped, as Go's append drops it.
static void append(struct fast_events *ev, struct sbuf *b)
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
	struct sbuf b = { 0 }, action = { 0 };
	puts_(&action, "exec_create: ");
	puts_(&action, ev->cmd);
	put(&action, "", 1);
	if (!action.oom)
		put_line(&b, ev, action.p, -1);
	action.n = 0;
	puts_(&action, "exec_start: ");
	puts_(&action, ev->cmd);
	put(&action, "", 1);
	if (!action.oom)
		put_line(&b, ev, action.p, -1);
	b.oom |= action.oom;
	free(action.p);
	append(ev, &b);
}

void fast_events_died(struct fast_events *ev, int code)
{
	struct sbuf b = { 0 };
	put_line(&b, ev, "exec_die", code);
	append(ev, &b);
}
