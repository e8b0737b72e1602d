// The container init in C (initc.c): a plan of operations that engine/runtime's Create
// turned its spec into, run by the constructor inside the container's new namespaces up to
// execve, so that no Go runtime starts in the init. The wire format is engine/runtime's
// plan.go; every decision is made there, this side only executes and reports.
#ifndef GLASSBOX_INITC_H
#define GLASSBOX_INITC_H

#include <stddef.h>
#include <stdint.h>

// When the constructor began, had joined the cgroups, the namespaces, and forked (nsexec.c).
#define NSEXEC_MARKS 5
extern int64_t glassbox_nsexec_marks[NSEXEC_MARKS];

// The init's own arguments (argv[0] to the last NUL, one area), set by the constructor: the
// --init reaper writes its name over them for ps (initc_reaper.c).
extern char *initc_title_area;
extern size_t initc_title_len;

__attribute__((noreturn))
void glassbox_init_run(const char *plan, uint32_t len);

#endif
