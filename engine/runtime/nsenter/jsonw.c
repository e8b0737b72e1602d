// JSON text as Go writes it: see jsonw.h. TestFastExecEventsMatchGo (test/exec) and
// TestCShim (cshim_test.go) compare it with Go's own.
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "jsonw.h"

void jbuf_put(struct jbuf *b, const void *s, size_t n)
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

void jbuf_puts(struct jbuf *b, const char *s)
{
	jbuf_put(b, s, strlen(s));
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

// marshal_escape is encoding/json's escape of the ASCII byte c (appendString with escapeHTML),
// written to esc; 0 when c goes as it is.
static int marshal_escape(unsigned char c, char esc[8])
{
	static const char hex[] = "0123456789abcdef";
	const char *two = NULL;
	switch (c) {
	case '"':
		two = "\\\"";
		break;
	case '\\':
		two = "\\\\";
		break;
	case '\b':
		two = "\\b";
		break;
	case '\f':
		two = "\\f";
		break;
	case '\n':
		two = "\\n";
		break;
	case '\r':
		two = "\\r";
		break;
	case '\t':
		two = "\\t";
		break;
	}
	if (two != NULL) {
		memcpy(esc, two, 2);
		return 2;
	}
	if (c >= 0x20 && c != '<' && c != '>' && c != '&')
		return 0;
	memcpy(esc, "\\u00", 4);
	esc[4] = hex[c >> 4];
	esc[5] = hex[c & 0xF];
	return 6;
}

void jbuf_string(struct jbuf *b, const void *str, size_t n, int escaping)
{
	const unsigned char *s = str;
	size_t start = 0; // runs of bytes that go as they are are copied at once
	jbuf_put(b, "\"", 1);
	for (size_t i = 0; i < n;) {
		char esc[8];
		int l = utf8_len(s + i, n - i), e = 0;
		if (l == 0) {
			if (escaping == JSON_MARSHAL)
				memcpy(esc, "\\ufffd", e = 6);
			else
				memcpy(esc, "\xEF\xBF\xBD", e = 3);
			l = 1;
		} else if (l == 1 && escaping == JSON_MARSHAL) {
			e = marshal_escape(s[i], esc);
		} else if (l == 1 && (s[i] == '"' || s[i] == '\\')) {
			esc[0] = '\\';
			esc[1] = s[i];
			e = 2;
		} else if (l == 1 && s[i] < 0x20) {
			e = snprintf(esc, sizeof(esc), "\\u%04x", s[i]);
		} else if (l == 3 && escaping == JSON_MARSHAL && s[i] == 0xE2 && s[i + 1] == 0x80 &&
			   (s[i + 2] == 0xA8 || s[i + 2] == 0xA9)) {
			e = snprintf(esc, sizeof(esc), "\\u202%c", s[i + 2] == 0xA8 ? '8' : '9');
		}
		if (e > 0) {
			jbuf_put(b, s + start, i - start);
			jbuf_put(b, esc, e);
			start = i + l;
		}
		i += l;
	}
	jbuf_put(b, s + start, n - start);
	jbuf_put(b, "\"", 1);
}

// jbuf_time writes time.Now().UTC() in RFC 3339 with nanoseconds, as Go's RFC3339Nano writes
// it: trailing zeros of the fraction dropped, and the dot with them.
void jbuf_time(struct jbuf *b)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	jbuf_time_at(b, (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec);
}

int json_civil_time(int64_t sec, char *out, size_t len)
{
	// The civil date of the day (H. Hinnant's days_from_civil inverse), not gmtime_r: glibc's
	// loads /etc/localtime on first use even for UTC.
	int64_t days = sec / 86400, secs = sec % 86400;
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
	return snprintf(out, len, "%04lld-%02lld-%02lldT%02lld:%02lld:%02lld", (long long)year, (long long)month,
			(long long)day, (long long)(secs / 3600), (long long)(secs / 60 % 60), (long long)(secs % 60));
}

void jbuf_time_at(struct jbuf *b, int64_t ns)
{
	struct timespec ts = { .tv_sec = ns / 1000000000, .tv_nsec = ns % 1000000000 };
	char s[64];
	int n = json_civil_time(ts.tv_sec, s, sizeof(s));
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
	jbuf_put(b, s, n);
}
