// jsonw.h's buffer and JSON pieces.
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "jsonw.h"

void sbuf_put(struct sbuf *b, const void *s, size_t n)
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

void sbuf_puts(struct sbuf *b, const char *s)
{
	sbuf_put(b, s, strlen(s));
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
void sbuf_json(struct sbuf *b, const char *str)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t n = strlen(str);
	sbuf_put(b, "\"", 1);
	for (size_t i = 0; i < n;) {
		int l = utf8_len(s + i, n - i);
		if (l == 0) {
			sbuf_put(b, "\xEF\xBF\xBD", 3);
			i++;
			continue;
		}
		if (s[i] == '"' || s[i] == '\\') {
			char esc[2] = { '\\', s[i] };
			sbuf_put(b, esc, 2);
		} else if (s[i] < 0x20) {
			char esc[8];
			snprintf(esc, sizeof(esc), "\\u%04x", s[i]);
			sbuf_put(b, esc, 6);
		} else {
			sbuf_put(b, s + i, l);
		}
		i += l;
	}
	sbuf_put(b, "\"", 1);
}

// put_time is time.Now().UTC() in RFC 3339 with nanoseconds, as Go's RFC3339Nano writes
// it: trailing zeros of the fraction dropped, and the dot with them.
void sbuf_time(struct sbuf *b)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	sbuf_time_at(b, (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec);
}

void sbuf_time_at(struct sbuf *b, int64_t ns)
{
	struct timespec ts = { .tv_sec = ns / 1000000000, .tv_nsec = ns % 1000000000 };
	char s[64];
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
	sbuf_put(b, s, n);
}

