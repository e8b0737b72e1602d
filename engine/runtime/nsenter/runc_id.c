// `glassbox oci run` without Go: the run's container ID in a template entry (engine/runtime's
// runcache_id.go), whose strings hold RUNC_ID_MARK where Create wrote the ID, and the
// constructor's config, which the entry holds without the plan.
#define _GNU_SOURCE
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "runc.h"

// Records of the constructor's config (nsexec.c): REC_INIT carries the plan, REC_END ends;
// the ID is in REC_NAMESPACE's paths (after a u32 and an i32), REC_CGROUP's and
// REC_TIMENS_OFFSETS' (runcache_tmpl.go's markedConfig).
enum { REC_END = 0, REC_NAMESPACE = 1, REC_CGROUP = 2, REC_FLAGS = 4, REC_TIMENS_OFFSETS = 5, REC_INIT = 12 };
enum { FLAG_PLAN_LATER = 4 };

// runc_valid_id is runtime's checkID: letters, digits and _ . + -, not first . or -.
int runc_valid_id(const char *id)
{
	size_t n = strlen(id);
	if (n == 0 || n > 1024 || id[0] == '.' || id[0] == '-')
		return 0;
	for (const char *p = id; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || strchr("_.+-", *p)))
			return 0;
	return 1;
}

// expand_into copies s (len bytes) to out with the ID for each mark (and, in a whole
// template, its first 12 characters for each short mark); it returns the length, or only
// counts it when out is NULL.
static size_t expand_into(const char *s, size_t len, const struct runc_entry *e, char *out)
{
	const char *id = e->id;
	size_t idlen = strlen(id), n = 0, shortlen = idlen < RUNC_SHORT_ID ? idlen : RUNC_SHORT_ID;
	for (size_t i = 0; i < len; i++) {
		if (s[i] == RUNC_ID_MARK) {
			if (out)
				memcpy(out + n, id, idlen);
			n += idlen;
		} else if (s[i] == RUNC_SHORT_MARK && e->template == RUNC_TEMPLATE_WHOLE) {
			if (out)
				memcpy(out + n, id, shortlen);
			n += shortlen;
		} else {
			if (out)
				out[n] = s[i];
			n++;
		}
	}
	return n;
}

const char *runc_expand(struct runc_entry *e, const char *s)
{
	if (s == NULL || !e->template || (strchr(s, RUNC_ID_MARK) == NULL && (e->template != RUNC_TEMPLATE_WHOLE || strchr(s, RUNC_SHORT_MARK) == NULL)))
		return s;
	size_t len = strlen(s), n = expand_into(s, len, e, NULL);
	struct runc_alloc *a = malloc(sizeof(*a) + n + 1);
	if (a == NULL)
		return NULL;
	expand_into(s, len, e, a->s);
	a->s[n] = '\0';
	a->next = e->allocs;
	e->allocs = a;
	return a->s;
}

// plan_marked: in a whole template, string i of operation op holds marks (RC_PLAN_MARKS);
// the others may hold the mark bytes as data (a seccomp program).
static int plan_marked(const struct runc_entry *e, uint32_t op, int i)
{
	for (uint32_t k = 0; k < e->nplan_marks; k++) {
		uint32_t pair[2];
		memcpy(pair, e->plan_marks + 8 * k, 8);
		if (pair[0] == op && pair[1] == (uint32_t)i)
			return 1;
	}
	return 0;
}

// expand_plan writes the plan with the ID in: each operation is u32 code, u32 flags, i64
// args[6], then four strings, each a u32 length, its bytes and a NUL (initc.c's next_op).
// It returns the length, or only counts it when out is NULL; -1 if the plan is malformed.
static int64_t expand_plan(struct runc_entry *e, char *out)
{
	const char *p = e->plan, *end = p + e->plan_len;
	size_t n = 0, fixed = 8 + 8 * 6;
	for (uint32_t op = 0; p < end; op++) {
		if ((size_t)(end - p) < fixed)
			return -1;
		if (out)
			memcpy(out + n, p, fixed);
		n += fixed;
		p += fixed;
		for (int i = 0; i < 4; i++) {
			uint32_t len;
			if (end - p < 4)
				return -1;
			memcpy(&len, p, 4);
			p += 4;
			if ((size_t)(end - p) < (size_t)len + 1 || p[len] != '\0')
				return -1;
			int marked = e->template && (e->template != RUNC_TEMPLATE_WHOLE || plan_marked(e, op, i));
			size_t m = marked ? expand_into(p, len, e, NULL) : len;
			if (m > UINT32_MAX)
				return -1;
			uint32_t m32 = m;
			if (out) {
				memcpy(out + n, &m32, 4);
				if (marked)
					expand_into(p, len, e, out + n + 4);
				else
					memcpy(out + n + 4, p, len);
				out[n + 4 + m] = '\0';
			}
			n += 4 + m + 1;
			p += len + 1;
		}
	}
	return n;
}

// expand_nsenter writes the constructor's config up to its REC_END (len bytes) with the ID in,
// as expand_plan; a template of one ID has none there (runcache_id.go).
static int64_t expand_nsenter(struct runc_entry *e, size_t len, char *out)
{
	if (e->template != RUNC_TEMPLATE_WHOLE) {
		if (out)
			memcpy(out, e->nsenter, len);
		return len;
	}
	const char *p = e->nsenter, *end = p + len;
	size_t n = 0;
	while (p < end) {
		uint32_t hdr[2];
		if (end - p < 8)
			return -1;
		memcpy(hdr, p, 8);
		p += 8;
		if ((size_t)(end - p) < hdr[1])
			return -1;
		size_t skip = hdr[0] == REC_NAMESPACE ? 8 : 0;
		int text = hdr[0] == REC_NAMESPACE || hdr[0] == REC_CGROUP || hdr[0] == REC_TIMENS_OFFSETS;
		if (hdr[1] < skip)
			return -1;
		size_t m = text ? skip + expand_into(p + skip, hdr[1] - skip, e, NULL) : hdr[1];
		if (m > UINT32_MAX)
			return -1;
		if (out) {
			uint32_t h[2] = { hdr[0], (uint32_t)m };
			memcpy(out + n, h, 8);
			memcpy(out + n + 8, p, skip);
			if (text)
				expand_into(p + skip, hdr[1] - skip, e, out + n + 8 + skip);
			else
				memcpy(out + n + 8, p, hdr[1]);
		}
		n += 8 + m;
		p += hdr[1];
	}
	return n;
}

char *runc_config(struct runc_entry *e, int plan_later, size_t *len, size_t *split)
{
	static const uint32_t end_rec[2] = { REC_END, 0 };
	// The entry's config ends in REC_END: the plan goes in before it, or, later, in a second
	// config after a REC_FLAGS of FLAG_PLAN_LATER and REC_END.
	if (e->nsenter_len < 8 || memcmp(e->nsenter + e->nsenter_len - 8, end_rec, 8) != 0 || e->plan == NULL)
		return NULL;
	int64_t plan = expand_plan(e, NULL), head = expand_nsenter(e, e->nsenter_len - 8, NULL);
	if (plan < 0 || plan > UINT32_MAX || head < 0)
		return NULL;
	size_t first = head + (plan_later ? 12 + 8 : 0);
	char *b = malloc(first + 8 + plan + 8);
	if (b == NULL)
		return NULL;
	expand_nsenter(e, e->nsenter_len - 8, b);
	if (plan_later) {
		uint32_t flags[3] = { REC_FLAGS, 4, FLAG_PLAN_LATER };
		memcpy(b + head, flags, 12);
		memcpy(b + head + 12, end_rec, 8);
	}
	uint32_t hdr[2] = { REC_INIT, (uint32_t)plan };
	memcpy(b + first, hdr, 8);
	expand_plan(e, b + first + 8);
	memcpy(b + first + 8 + plan, end_rec, 8);
	*len = first + 8 + plan + 8;
	*split = first;
	return b;
}

// runc_expand_entry puts the ID into every string of a template entry; -1 when out of memory.
int runc_expand_entry(struct runc_entry *e)
{
	if (!e->template)
		return 0;
	const char **strs[] = { &e->state, &e->clone_frag, &e->oom_frag };
	for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++)
		if (*strs[i] != NULL && (*strs[i] = runc_expand(e, *strs[i])) == NULL)
			return -1;
	for (int i = 0; i < e->nops; i++) {
		struct runc_cgroup_op *o = &e->ops[i];
		if ((o->path = runc_expand(e, o->path)) == NULL || (o->frag = runc_expand(e, o->frag)) == NULL
		    || (o->value != NULL && (o->value = runc_expand(e, o->value)) == NULL))
			return -1;
	}
	for (int i = 0; i < e->nprocs; i++)
		if ((e->procs[i] = runc_expand(e, e->procs[i])) == NULL)
			return -1;
	for (int i = 0; i < e->nleaves; i++)
		if ((e->leaves[i] = runc_expand(e, e->leaves[i])) == NULL)
			return -1;
	for (int i = 0; i < e->nsteps; i++) {
		struct runc_step *s = &e->steps[i];
		if ((s->frag = runc_expand(e, s->frag)) == NULL || (s->file = runc_expand(e, s->file)) == NULL)
			return -1;
	}
	return 0;
}

void runc_free_entry(struct runc_entry *e)
{
	while (e->allocs != NULL) {
		struct runc_alloc *a = e->allocs;
		e->allocs = a->next;
		free(a);
	}
}
