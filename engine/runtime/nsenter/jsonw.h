// A growing byte buffer and the JSON pieces Go's encoders write (shared by the C fast paths'
// event lines, records and logs).
#ifndef GLASSBOX_JSONW_H
#define GLASSBOX_JSONW_H

#include <stddef.h>
#include <stdint.h>

struct sbuf {
	char *p;
	size_t n, cap;
	int oom;		// an allocation failed: the buffer is to be dropped
};

void sbuf_put(struct sbuf *b, const void *s, size_t n);
void sbuf_puts(struct sbuf *b, const char *s);
// sbuf_json appends str as a JSON string (appendJSONString).
void sbuf_json(struct sbuf *b, const char *str);
// sbuf_time appends now, sbuf_time_at the time ns (CLOCK_REALTIME), in UTC as Go's
// RFC3339Nano writes a time.Time: trailing zeros of the fraction dropped.
void sbuf_time(struct sbuf *b);
void sbuf_time_at(struct sbuf *b, int64_t ns);

#endif
