// `glassbox oci run` without Go (runc.c: the command line and the run cache; runc_run.c: the
// run). engine/runtime/runcache.go writes the cache and documents it.
#ifndef GLASSBOX_RUNC_H
#define GLASSBOX_RUNC_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

// Record types of a cache entry: runcache.go's rc* constants, the same numbers.
enum {
	RC_VERSION = 1,
	RC_ID = 2,
	RC_BUNDLE = 3,
	RC_STAT = 4,
	RC_FILE = 5,
	RC_UID = 6,
	RC_CGROUP_MKDIR = 7,
	RC_CGROUP_WRITE = 8,
	RC_CGROUP_PROCS = 9,
	RC_CGROUP_LEAF = 10,
	RC_NSENTER = 11,
	RC_CLONE = 12,
	RC_OOM_SCORE_ADJ = 13,
	RC_STATE = 14,
	RC_STEP = 15,
	RC_TEXT = 16,
	RC_TEMPLATE = 17,
	RC_PLAN = 18,
	RC_PLAN_MARKS = 19,
};

// RUNC_ID_MARK stands for the run's container ID in a template entry's strings.
#define RUNC_ID_MARK '\x01'
// RUNC_SHORT_MARK stands for its first RUNC_SHORT_ID characters in a whole template
// (runcache_tmpl.go: RC_TEMPLATE's payload RUNC_TEMPLATE_WHOLE), the container's hostname.
#define RUNC_SHORT_MARK '\x02'
#define RUNC_SHORT_ID 12
#define RUNC_TEMPLATE_WHOLE 2


#define RUNC_CACHE_VERSION 2
enum { STAT_IDENTITY = 0, STAT_TYPE = 1 };
enum { TEXT_INIT_EXECVE = 1, TEXT_PROG_EXEC = 2 };

#define RUNC_MAX_CGROUP_OPS 256
#define RUNC_MAX_CGROUPS 32
#define RUNC_MAX_STEPS 4096

struct runc_cgroup_op {
	int mkdir;		// 1: mkdir path; 0: write value to path
	const char *path, *value, *frag;
};

struct runc_step {
	uint32_t index, flags;
	const char *frag, *file;
};

struct runc_alloc {
	struct runc_alloc *next;
	char s[];
};

// A matching cache entry, pointing into the file's bytes.
struct runc_entry {
	const char *root, *id, *bundle, *log;
	struct runc_cgroup_op ops[RUNC_MAX_CGROUP_OPS];
	int nops;
	const char *procs[RUNC_MAX_CGROUPS];
	int nprocs;
	const char *leaves[RUNC_MAX_CGROUPS];
	int nleaves;
	const char *nsenter;
	uint32_t nsenter_len;
	uint32_t clone_flags;
	const char *clone_frag;
	int has_oom;
	int32_t oom;
	const char *oom_frag;
	const char *state;
	struct runc_step steps[RUNC_MAX_STEPS];
	int nsteps;
	const char *text_init_execve, *text_prog_exec;
	int template;		// the strings hold RUNC_ID_MARK where the ID goes (RC_TEMPLATE's payload)
	const char *plan;	// the C init's plan, for the constructor's config
	uint32_t plan_len;
	const char *plan_marks;		// whole templates: (op, string) u32 pairs holding marks
	uint32_t nplan_marks;		// pairs
	struct runc_alloc *allocs;	// strings made with the ID in, freed with the entry
	int64_t origin;		// CLOCK_REALTIME ns when the constructor began
};

// A run in progress (runc_run.c).
struct run {
	struct runc_entry *e;
	char dir[PATH_MAX];
	int made_dir, made[RUNC_MAX_CGROUP_OPS];
	pid_t helper, init;
	char *trace;
	size_t tlen, tcap;
	int tsteps;
	// Between runc_spawn and runc_created: what the create holds open.
	int fifo, exe, sync_fd, cfg_fd;
	int fifo_rd;		// the exec fifo opened for reading ahead (runc_start_ahead), or -1
	char *cfg;
	size_t cfg_len;
	int64_t clone_began;
	int cg_done, cg_rc;	// runc_cgroups ran, and how it went
	int configured;		// runc_configure sent the init its config
	// plan_later (the caller's choice, before runc_spawn): the config up to cfg_split goes to
	// the init once its cgroups are joined, so that it makes its namespaces meanwhile; the
	// plan, the rest, at runc_configure.
	int plan_later;
	size_t cfg_split;
	// The init's ready message, whose timings init_timings adds to the trace.
	const char *ready_msg;
};

// runc_files.c
void runc_trace_add(struct run *r, const char *frag, int64_t start, int64_t end, int pid, int err);
__attribute__((format(printf, 6, 7)))
void runc_trace_addf(struct run *r, int64_t start, int64_t end, int pid, const char *step, const char *fmt, ...);
int runc_write_all(int fd, const void *buf, size_t len);
int runc_write_file(const char *path, const char *value, size_t len);
int runc_write_atomic(struct run *r, const char *name, const char *data, size_t len);
// runc_replace puts the file at tmp in path's place as rename(2) would, atomically for readers;
// tmp is gone after it, also on failure (but for a path that is no file and could not be
// exchanged back).
int runc_replace(const char *tmp, const char *path);
void runc_remove_cgroup(const char *dir, int depth);
void runc_remove_state(struct run *r);

// runc_expand returns s with the run's ID for each RUNC_ID_MARK (s itself when none), NULL
// when out of memory. runc_config returns the constructor's config with the plan, or NULL;
// with plan_later, two configs, the plan in the second, which begins at split (else len).
const char *runc_expand(struct runc_entry *e, const char *s);
char *runc_config(struct runc_entry *e, int plan_later, size_t *len, size_t *split);
int runc_valid_id(const char *id);
int runc_expand_entry(struct runc_entry *e);
void runc_free_entry(struct runc_entry *e);

// runc_load_template checks and loads a whole template (runcache_tmpl.go) for e->id and
// e->bundle, which the caller set, as e->root (the runtime's state directory) and e->origin;
// -1 if it does not hold.
int runc_load_template(struct runc_entry *e, char *buf, size_t len);
// The run's parts, for grun.c's shim: runc_create makes the container up to the init
// waiting on its exec fifo with state.json written (0), or undoes everything (-1); the init
// inherits 0, 1 and 2. It is runc_spawn (the state directory, and the init's first process
// started: its execve and loader run meanwhile) then runc_created (the cgroups, the init's
// config, its plan up to ready), between which the caller may do what the init needs only
// once it has its config (grun_shim.c makes the rootfs there), having first called
// runc_cgroups to have the cgroups made and joined (else runc_created does). runc_configure,
// after what the init's plan needs is there, sends the init its config (the cgroups joined
// first); runc_created does it if the caller did not, and returns once the init is ready: the
// caller may do meanwhile what the init's plan does not need, between runc_created's two parts
// (runc_planned, runc_ready). runc_start releases it (0 once its program runs, -1 if it died
// first); runc_undo kills it and removes what runc_create made; runc_delete removes the
// cgroups and state once the init is reaped.
int runc_create(struct run *r);
int runc_spawn(struct run *r);
int runc_cgroups(struct run *r);
int runc_configure(struct run *r);
int runc_created(struct run *r);
int runc_planned(struct run *r);	// runc_created's first part: the init has its plan
int runc_ready(struct run *r);	// its second: the init is ready
void runc_abandon(struct run *r);	// after runc_spawn: the init killed, all undone
void runc_write_trace_to(struct run *r, const char *path);	// the steps so far, as trace.json
int runc_start(struct run *r);
// runc_start_ahead opens the exec fifo for reading before the init is ready (for a run, whose
// start follows its create at once): the init then goes from its plan to the program's
// execve without waiting for the start; runc_start reads it as it would. -1 if it cannot
// (runc_start opens it then).
int runc_start_ahead(struct run *r);
void runc_undo(struct run *r);
void runc_delete(struct run *r);
// runc_delete_into is runc_delete with the state directory renamed to trash (on its
// filesystem) rather than emptied and removed, for the caller to remove later: 1 if it was,
// 0 if it was removed in place (or there was none).
int runc_delete_into(struct run *r, const char *trash);
// runc_run does the run; it returns (having undone everything) only when Go must do it.
void runc_run(struct runc_entry *e);
// glassbox_runc runs `oci run` from the cache when it can; it returns when Go must. nsexec.c's
// constructor calls it in a process that is not a helper (no _GLASSBOX_NSENTER).
void glassbox_runc(int argc, char **argv);
// A cache entry's records (runc.c), shared with grun.c: a payload of exactly n NUL-ended
// strings; an RC_STAT record (identity or file type) and an RC_FILE record (exact contents)
// that still hold (0) or not (-1).
int runc_strings_of(const char *p, uint32_t len, const char **out, int n);
int runc_check_stat(const char *p, uint32_t len);
int runc_check_file(const char *p, uint32_t len);
// runc_marker appends what="c" or "go" to $GLASSBOX_RUN_TRACE, for tests.
void runc_marker(const char *what);
int64_t runc_now(void);

#endif
