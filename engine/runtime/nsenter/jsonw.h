// jsonw: the JSON text the constructor's C writes where Go would (the exec fast path's events,
// the C shim's log), byte for byte as the Go side writes it.
#ifndef GLASSBOX_JSONW_H
#define GLASSBOX_JSONW_H

#include <stddef.h>
#include <stdint.h>

// jbuf is a growing buffer; oom is set (and the text left incomplete) when it cannot grow.
struct jbuf {
	char *p;
	size_t n, cap;
	int oom;
};

// The two string escapings Go writes: engine's appendJSONString (the exec events: quotes,
// backslashes, \u00XX for control characters, raw U+FFFD for bytes that are not UTF-8) and
// encoding/json's Marshal (also \n \r \t \b \f, \u003c \u003e \u0026 for < > &, \ufffd,
// \u2028 and \u2029).
enum { JSON_EVENTS, JSON_MARSHAL };

void jbuf_put(struct jbuf *b, const void *s, size_t n);
void jbuf_puts(struct jbuf *b, const char *s);
void jbuf_string(struct jbuf *b, const void *s, size_t n, int escaping);
// jbuf_time is time.Now().UTC() as RFC3339Nano (and time.Time's MarshalJSON, unquoted).
void jbuf_time(struct jbuf *b);
// jbuf_time_at is the time ns (CLOCK_REALTIME nanoseconds) so.
void jbuf_time_at(struct jbuf *b, int64_t ns);
// json_civil_time writes the UTC date and time of sec (seconds since the epoch) as
// "YYYY-MM-DDTHH:MM:SS" to out, without the C library's time zone code (which reads
// /etc/localtime on first use, even for gmtime); it returns snprintf's count.
int json_civil_time(int64_t sec, char *out, size_t len);

#endif
