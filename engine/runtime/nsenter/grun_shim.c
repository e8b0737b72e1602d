// `glassbox run` without Go, part three: the container's shim, a child of the caller in its
// own session and a child subreaper as engine/shim's (shim.lock held for its life, the
// container's stdout and stderr through pipes, the runtime's create and start from its whole
// template, the record and events, the log and the attach socket by cshim.c, the exit
// recorded, --rm's removal), and the caller's end: the attach stream of the container's
// first byte on a socket pair, signals passed to the init, the container's exit status as
// its own; with -d, the ID once the container runs. Until the shim says the container runs,
// a failure undoes everything and the caller lets Go run the command.
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <malloc.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "cshim.h"
#include "grun.h"
#include "initc.h"
#include "kernel_compat.h"
#include "readfile.h"

// Frames of engine/shim's protocol.go.
enum { FRAME_STDOUT = 4, FRAME_STDERR = 5, FRAME_EXIT = 6 };

// A hierarchy's key and its path in one pool: an array of PATH_MAX paths was a page per
// hierarchy written, a page fault each on the way to the start.
struct cg {
	char key[64];
	const char *path;
};

static int cg_cmp(const void *a, const void *b)
{
	return strcmp(((const struct cg *)a)->key, ((const struct cg *)b)->key);
}

// The memory hierarchies' paths of the init's cgroups (v1's "memory", v2's "unified"), for
// oom_killed: set by cgroups_json.
static const char *memory_cg, *unified_cg;

// cgroups_json is shim.CgroupPaths of pid as JSON (encoding/json sorts a map's keys).
static int cgroups_json(pid_t pid, struct jbuf *out)
{
	char path[64], data[8192];
	snprintf(path, sizeof(path), "/proc/%d/cgroup", pid);
	if (glassbox_read_small(path, data, sizeof(data), 0) < 0)
		return -1;
	int hybrid = access("/sys/fs/cgroup/unified/cgroup.procs", F_OK) == 0;
	static struct cg cgs[RUNC_MAX_CGROUPS];
	static char pool[sizeof(data) + RUNC_MAX_CGROUPS * 32];
	size_t used = 0;
	int n = 0;
	for (char *line = strtok(data, "\n"); line != NULL && n < RUNC_MAX_CGROUPS; line = strtok(NULL, "\n")) {
		char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
		if (c2 == NULL)
			continue;
		*c2 = '\0';
		const char *ctrl = c1 + 1, *p = c2 + 1, *base;
		char dir[PATH_MAX];
		if (*ctrl == '\0') {
			snprintf(cgs[n].key, sizeof(cgs[n].key), "unified");
			base = hybrid ? "/sys/fs/cgroup/unified" : "/sys/fs/cgroup";
		} else {
			snprintf(cgs[n].key, sizeof(cgs[n].key), "%s", ctrl);
			snprintf(dir, sizeof(dir), "/sys/fs/cgroup/%s", strncmp(ctrl, "name=", 5) == 0 ? ctrl + 5 : ctrl);
			base = dir;
		}
		int len = snprintf(pool + used, sizeof(pool) - used, "%s%s", base, strcmp(p, "/") == 0 ? "" : p);
		if (len < 0 || (size_t)len >= sizeof(pool) - used)
			return -1;
		cgs[n].path = pool + used;
		used += len + 1;
		if (strcmp(cgs[n].key, "memory") == 0)
			memory_cg = cgs[n].path;
		else if (strcmp(cgs[n].key, "unified") == 0)
			unified_cg = cgs[n].path;
		n++;
	}
	qsort(cgs, n, sizeof(cgs[0]), cg_cmp);
	jbuf_puts(out, "{");
	for (int i = 0; i < n; i++) {
		if (i > 0)
			jbuf_puts(out, ",");
		jbuf_string(out, cgs[i].key, strlen(cgs[i].key), JSON_MARSHAL);
		jbuf_puts(out, ":");
		jbuf_string(out, cgs[i].path, strlen(cgs[i].path), JSON_MARSHAL);
	}
	jbuf_puts(out, "}");
	jbuf_put(out, "", 1);
	return out->oom ? -1 : 0;
}

// oom_killed is shim.OOMKilled: the oom_kill counter of v1's memory.oom_control or v2's
// memory.events above 0 (the two files of the memory hierarchies, not one per hierarchy).
static int oom_killed(void)
{
	const char *files[][2] = { { memory_cg, "memory.oom_control" }, { unified_cg, "memory.events" } };
	for (int f = 0; f < 2; f++) {
		char path[PATH_MAX], data[4096];
		if (files[f][0] == NULL || (size_t)snprintf(path, sizeof(path), "%s/%s", files[f][0], files[f][1]) >= sizeof(path)
		    || glassbox_read_small(path, data, sizeof(data), 0) < 0)
			continue;
		char *k = strstr(data, "oom_kill ");
		if (k != NULL && (k == data || k[-1] == '\n') && k[9] != '0')
			return 1;
	}
	return 0;
}

// discard is state.Store.Discard: the record kept as a tombstone, the name released, the
// directory renamed into the trash (purged after the attachers heard the exit).
static void discard(struct grun *g, char *trash)
{
	char from[PATH_MAX], to[PATH_MAX];
	if (grun_path(g, from, "state.json") == 0
	    && (size_t)snprintf(to, sizeof(to), "%s/exits/%s.%lld", g->root, g->id, (long long)runc_now()) < sizeof(to))
		link(from, to);
	char path[PATH_MAX], owner[80];
	snprintf(path, sizeof(path), "%s/names/%s", g->root, g->cname);
	if (glassbox_read_small(path, owner, sizeof(owner), O_NOFOLLOW) == 64 && memcmp(owner, g->id, 64) == 0)
		unlink(path);
	g->named = 0;
	snprintf(trash, PATH_MAX, "%s/trash/%s", g->root, g->id);
	grun_remove_tree(trash);
	if (rename(g->dir, trash) < 0) {
		grun_remove_tree(g->dir);
		trash[0] = '\0';
	}
	g->made_dir = 0;
}

// TOMBSTONE_LIFE_NS is state.TombstoneLife.
#define TOMBSTONE_LIFE_NS (60LL * 1000000000LL)

// name_shim makes the shim look as engine/shim's does in ps and /proc/PID/cmdline
// ("glassbox shim --root ROOT ID", cut to the bytes the caller's arguments had); its comm
// is set at its start.
static void name_shim(void *arg)
{
	struct grun *g = arg;
	if (initc_title_area == NULL || initc_title_len < 2)
		return;
	const char *words[] = { "glassbox", "shim", "--root", g->root, g->id };
	size_t n = 0, cap = initc_title_len - 1;	// the last byte stays NUL
	memset(initc_title_area, 0, initc_title_len);
	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]) && n < cap; i++) {
		size_t l = strlen(words[i]);
		l = l < cap - n ? l : cap - n;
		memcpy(initc_title_area + n, words[i], l);
		n += l + 1;
	}
}

// The runtime's delete (the cgroups' rmdirs, the longest part of the end) runs beside the
// rest of the end, as engine/shim's run does, in a thread started while the program runs
// (a pthread_create at the end cost 0.15 ms there) that waits for the exit. The runtime's
// state directory goes into the trash (trash/ID.runtime), removed with the container's
// directory once the attachers heard the exit.
struct deleter {
	struct run *r;
	sem_t go;
	pthread_t thread;
	int started, moved;
	char trash[PATH_MAX];
};

static void *delete_runtime(void *arg)
{
	struct deleter *d = arg;
	while (sem_wait(&d->go) < 0 && errno == EINTR) ;
	d->moved = runc_delete_into(d->r, d->trash[0] ? d->trash : NULL);
	return NULL;
}

static void start_deleter(struct deleter *d, struct grun *g, struct run *r)
{
	d->r = r;
	if ((size_t)snprintf(d->trash, sizeof(d->trash), "%s/trash/%s.runtime", g->root, g->id) >= sizeof(d->trash))
		d->trash[0] = '\0';
	if (sem_init(&d->go, 0, 0) < 0)
		return;
	// Its signals blocked from the start: the shim's own stay with its main thread.
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	d->started = pthread_create(&d->thread, NULL, delete_runtime, d) == 0;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
}

// run_deleter starts the delete: in the thread if there is one, else here and now.
static void run_deleter(struct deleter *d)
{
	if (d->started)
		sem_post(&d->go);
	else
		d->moved = runc_delete_into(d->r, d->trash[0] ? d->trash : NULL);
}

static void join_deleter(struct deleter *d)
{
	if (d->started)
		pthread_join(d->thread, NULL);
}

static void say(int fd, const char *msg)
{
	if (fd >= 0)
		runc_write_all(fd, msg, strlen(msg));
}

// close_others closes every descriptor but keep's (ascending): what the caller of glassbox
// left open (a test's pipe) must not stay open as long as the container runs.
static void close_others(const int *keep, int n)
{
	unsigned int from = 3;
	for (int i = 0; i < n; i++) {
		if (keep[i] < (int)from)
			continue;
		if ((unsigned int)keep[i] > from)
			syscall(SYS_close_range, from, keep[i] - 1, 0);
		from = keep[i] + 1;
	}
	syscall(SYS_close_range, from, ~0U, 0);
}

// above_stdio moves fd above 2: a caller that closed its stdin, stdout or stderr gets
// grun_run's pipe ends there, where the init's stdio goes.
static int above_stdio(int fd)
{
	if (fd < 0 || fd > 2)
		return fd;
	int high = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	close(fd);
	return high;
}

// fill_stdio gives each free one of 0, 1 and 2 /dev/null (not close-on-exec), so that the
// shim's own descriptors land above them and its dup2s onto them replace, not keep, what is
// there: a pipe at 0 already would stay close-on-exec and the init would start without it.
static int fill_stdio(void)
{
	for (int fd = 0; fd < 3; fd++)
		if (fcntl(fd, F_GETFD) < 0) {
			int null = open("/dev/null", O_RDWR);
			if (null != fd) {
				if (null >= 0)
					close(null);
				return -1;
			}
		}
	return 0;
}

static int int_cmp(const void *a, const void *b)
{
	return *(const int *)a - *(const int *)b;
}

// shim runs in the child (start_shim, or fork); it never returns. ready gets "F" (undone: Go
// runs it), or "S PID" once the program runs; ctl is the caller's attach stream (-1 with -d).
__attribute__((noreturn))
static void shim(struct grun *g, struct runc_entry *rt, int ready, int ctl)
{
	setsid();
	// One malloc arena: the runtime's cgroups thread would otherwise map an arena of its own
	// and write its first pages, for the few small buffers it allocates.
	mallopt(M_ARENA_MAX, 1);
	prctl(PR_SET_NAME, "glassbox-shim", 0, 0, 0);
	ready = above_stdio(ready);
	ctl = above_stdio(ctl);
	if (ready < 0 || (ctl < 0 && !(g->flags & GF_DETACH)) || fill_stdio() < 0)
		_exit(0);	// the caller reads no "S": Go runs it
	int keep[] = { ready, ctl };
	qsort(keep, 2, sizeof(int), int_cmp);
	close_others(keep, 2);
	static const int ignored[] = { SIGHUP, SIGINT, SIGPIPE, SIGTTOU, SIGTTIN };
	for (size_t i = 0; i < sizeof(ignored) / sizeof(ignored[0]); i++)
		signal(ignored[i], SIG_IGN);
	char path[PATH_MAX];
	int out[2] = { -1, -1 }, err[2] = { -1, -1 }, lock = -1, log = -1;
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);
	char st;
	// The shim's start time (the record's creatorStart and shimStart), read once: a
	// /proc/PID/stat read while the runtime's cgroups thread runs took milliseconds.
	if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0 || null < 0 || pipe2(out, O_CLOEXEC) < 0 || pipe2(err, O_CLOEXEC) < 0
	    || glassbox_proc_stat(getpid(), &st, &g->self_start) < 0)
		goto fallback;
	// The init inherits 0, 1 and 2: /dev/null and the pipes' write ends; the shim's own go to
	// shim.log once the init has them.
	if (dup2(null, 0) < 0 || dup2(out[1], 1) < 0 || dup2(err[1], 2) < 0)
		goto fallback;
	// The init's first process starts now: its execve and loader (the longest step) run
	// while the container is made, which the init needs only once it has its config.
	struct run r = { .e = rt, .plan_later = 1 };
	if (runc_spawn(&r) < 0)
		goto fallback;
	if (runc_cgroups(&r) < 0) {
		runc_abandon(&r);
		goto fallback;
	}
	if (grun_create(g) < 0) {
		runc_abandon(&r);
		goto fallback;
	}
	// A test's fault: the shim fails once the container is made (it undoes it all).
	const char *fault = getenv("GLASSBOX_GRUN_FAULT");
	if (fault != NULL && strcmp(fault, "created") == 0) {
		runc_abandon(&r);
		goto undo;
	}
	// The init has its rootfs and /etc files: its plan now (it made its namespaces meanwhile),
	// and config.json (the bundle's, which the init does not read) and the shim's own files
	// while it mounts (a processor would otherwise idle through them).
	if (runc_configure(&r) < 0 || grun_write_files(g, 1) < 0) {
		runc_abandon(&r);
		goto undo;
	}
	lock = grun_path(g, path, "shim.lock") < 0 ? -1 : open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	log = grun_path(g, path, "shim.log") < 0 ? -1 : open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (lock < 0 || flock(lock, LOCK_EX) < 0 || log < 0) {
		runc_abandon(&r);
		goto undo;
	}
	// The attach socket and the log while the init runs its plan.
	struct cshim s = { .dir = g->dir, .out = out[0], .err = err[0], .first = ctl,
			   .first_gone = name_shim, .first_gone_arg = g };
	uint64_t shim_start = g->self_start;
	if (cshim_listen(&s) < 0) {
		runc_abandon(&r);
		goto undo;
	}
	// The init has its plan: while it runs it, what needs only its PID, then its ready.
	int created = runc_planned(&r);
	dup2(log, 1);
	dup2(log, 2);
	close(out[1]);
	close(err[1]);
	struct jbuf cg = { 0 };
	if (created == 0 && cgroups_json(r.init, &cg) < 0) {
		runc_abandon(&r);
		created = -1;
	}
	// The container's namespaces (all made by now: the mount namespace once the init had its
	// plan), held until the caller has heard the exit: the init's exit then only drops a
	// reference, and their teardown comes after the exit frame rather than beside the end's
	// work: the mount namespace's ~40 mounts (an RCU grace period among them), the network
	// namespace's cleanup (its loopback device unregistered, grace periods waited for in a
	// kernel worker), the IPC namespace's.
	static const char *held[] = { "mnt", "net", "ipc" };
	int nsfd[3] = { -1, -1, -1 };
	for (int i = 0; i < 3 && created == 0; i++) {
		char ns[64];
		snprintf(ns, sizeof(ns), "/proc/%d/ns/%s", r.init, held[i]);
		nsfd[i] = open(ns, O_RDONLY | O_CLOEXEC);
	}
	// Nothing on this side can fail from here to the start: the start now, ahead, so that the
	// init goes on to the program's execve as soon as its plan is done (runc_start_ahead).
	if (created == 0) {
		runc_start_ahead(&r);
		created = runc_ready(&r);
	}
	if (created < 0) {
		for (int i = 0; i < 3; i++)
			if (nsfd[i] >= 0)
				close(nsfd[i]);
		cshim_finish(&s, "{\"code\":-1}", 11);
		goto undo;
	}
	s.init = r.init;
	// The program runs while its record and events are written: the record says running
	// before the caller hears of the start (a `run -d` then `inspect` sees it).
	int started_ok = runc_start(&r) == 0;
	int64_t started = runc_now();
	if (grun_write_record(g, "running", r.init, getpid(), shim_start, started, 0, 0, 0, cg.p) < 0)
		dprintf(2, "glassbox shim %s: write the record: %s\n", g->id, strerror(errno));
	grun_event(g, "create", -1);
	if (started_ok) {
		char msg[32];
		snprintf(msg, sizeof(msg), "S %d\n", r.init);
		say(ready, msg);
		// The title goes over the caller's arguments, in memory the caller may share
		// (start_shim): only once it no longer reads them (a failure before this has it
		// run the command again from them), and, were it still there, no longer runs (its
		// /proc/PID/cmdline would read the shim's): at once with -d, where it exits on
		// this message, else once its attach stream ends.
		if (ctl < 0)
			name_shim(g);
		grun_event(g, "start", -1);
	} else
		say(ready, "E the init exited before the program started\n");
	close(ready);
	grun_unlock_start(g);
	if (grun_path(g, path, "trace.json") == 0)
		runc_write_trace_to(&r, path);
	struct deleter deleter = { 0 };
	start_deleter(&deleter, g, &r);
	int code = cshim_serve(&s);
	int oom = oom_killed();
	// The delete and the rest of the end side by side, both done before anyone hears the exit.
	run_deleter(&deleter);
	if (grun_unmount(g) < 0)
		dprintf(2, "glassbox shim %s: umount rootfs: %s\n", g->id, strerror(errno));
	int64_t finished = runc_now();
	grun_write_record(g, "exited", r.init, 0, 0, started, finished, code, oom, cg.p);
	if (oom)
		grun_event(g, "oom", -1);
	grun_event(g, "die", code);
	char trash[PATH_MAX] = "";
	if (g->flags & GF_AUTOREMOVE) {
		discard(g, trash);
		grun_release_lease(g);
		grun_event(g, "destroy", -1);
	}
	join_deleter(&deleter);
	struct jbuf exit = { 0 };
	char c[64];
	snprintf(c, sizeof(c), "{\"code\":%d,\"oomKilled\":%s,\"finishedAt\":\"", code, oom ? "true" : "false");
	jbuf_puts(&exit, c);
	jbuf_time_at(&exit, finished);
	jbuf_puts(&exit, "\"}");
	cshim_finish(&s, exit.oom ? "{}" : exit.p, exit.oom ? 2 : exit.n);
	for (int i = 0; i < 3; i++)
		if (nsfd[i] >= 0)
			close(nsfd[i]);
	if (trash[0])
		grun_remove_tree(trash);
	if (deleter.moved)
		grun_remove_tree(deleter.trash);
	if (g->flags & GF_AUTOREMOVE)
		grun_prune_tombstones(g);
	_exit(0);
undo:
	grun_undo(g);
fallback:
	say(ready, "F\n");
	_exit(0);
}

// ---- the caller's end ----
//
// The shim starts beside the caller, in its memory (clone with CLONE_VM, as the init's first
// process does, start_helper): no copy of the caller's page tables, and none of the
// copy-on-write faults the shim's first writes took in a fork (each fault costs ~10 us under
// a hypervisor, the fork ~1 ms): 1.5 to 1.9 ms less per run here. The shim has a stack of
// its own and the caller's thread-local storage (its C library state: errno, malloc's cache,
// stdio's lock owner): from the clone on, the caller runs no C library code that writes any
// of it, only raw system calls (cli_*), until the shim has exited. Were the shim to fail before the
// container runs, the caller runs the command again in a new image of this binary (Go's way),
// as it cannot know what a shim that died left in the memory they shared. Where raw system
// calls are not at hand (GLASSBOX_RAW_SYSCALL), the shim is forked, and the caller goes on
// to Go in this process as before.
#ifdef GLASSBOX_RAW_SYSCALL
#define SHIM_BESIDE 1
#endif

// cli_sys is a system call that writes nothing in this process's memory but what it is given
// (no errno): -errno on failure.
static long cli_sys(long n, long a, long b, long c, long d)
{
#ifdef SHIM_BESIDE
	return glassbox_raw_syscall(n, a, b, c, d);
#else
	long r = syscall(n, a, b, c, d);
	return r < 0 ? -errno : r;
#endif
}

static int cli_read_full(int fd, void *buf, size_t n)
{
	for (size_t got = 0; got < n;) {
		long r = cli_sys(SYS_read, fd, (long)((char *)buf + got), (long)(n - got), 0);
		if (r == -EINTR)
			continue;
		if (r <= 0)
			return -1;
		got += r;
	}
	return 0;
}

static void cli_write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		long r = cli_sys(SYS_write, fd, (long)p, (long)n, 0);
		if (r == -EINTR)
			continue;
		if (r <= 0)
			return;
		p += r;
		n -= r;
	}
}

// cli_say writes its strings (up to a NULL) to fd in one write.
static void cli_say(int fd, ...)
{
	char b[2048];
	size_t n = 0;
	va_list ap;
	va_start(ap, fd);
	for (const char *w; (w = va_arg(ap, const char *)) != NULL;)
		for (; *w != '\0' && n < sizeof(b); w++)
			b[n++] = *w;
	va_end(ap);
	cli_write_all(fd, b, n);
}

// cli_marker is runc_marker without the C library (a test's record of the path a run took):
// "grun", or "again ID" when the C run of container ID failed and Go runs the command.
static void cli_marker(const char *what, const char *id)
{
	const char *p = getenv("GLASSBOX_RUN_TRACE");	// reads the environment, writes nothing
	if (p == NULL || *p == '\0')
		return;
	long fd = cli_sys(SYS_openat, AT_FDCWD, (long)p, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (fd < 0)
		return;
	cli_say((int)fd, what, id != NULL ? " " : "", id != NULL ? id : "", "\n", NULL);
	cli_sys(SYS_close, fd, 0, 0, 0);
}

__attribute__((noreturn))
static void cli_exit(int code)
{
	for (;;)
		cli_sys(SYS_exit_group, code, 0, 0, 0);
}

static volatile pid_t forward_to;

static void forward(int sig)
{
	if (forward_to > 0)
		cli_sys(SYS_kill, forward_to, sig, 0, 0);
}

#ifndef SHIM_BESIDE
// The teardown of the caller's address space (its page tables, the pages it wrote, the
// binary's mappings) is the longest part of its exit here, and its parent, a shell or a
// script, waits for it before it hears the status: exit_quickly leaves it to a helper that
// shares the address space (CLONE_VM), so that the caller's exit only drops a reference, and
// that exits, the last user, once the caller is gone (its pidfd readable). The helper runs no
// C library code (it shares the caller's thread-local storage): three system calls, on a
// stack of its own. It holds none of the caller's descriptors (a reader of the caller's
// stdout sees its end at once), takes no signal (all blocked), and, once orphaned, is reaped
// by init or a subreaper, as the shim is.
static char teardown_stack[16384] __attribute__((aligned(16)));

static int teardown(void *arg)
{
	int pidfd = (int)(intptr_t)arg;
	syscall(SYS_close_range, 0, pidfd - 1, 0);
	syscall(SYS_close_range, pidfd + 1, ~0U, 0);
	// Once: were it to return early, the caller's exit would do the teardown, as without us.
	struct pollfd p = { pidfd, POLLIN, 0 };
	syscall(SYS_ppoll, &p, 1, NULL, NULL, 0);
	syscall(SYS_exit, 0);
	return 0;
}
#endif

// exit_quickly ends the caller once the container runs (-d) or has exited. Beside the shim,
// the shim holds the address space, and the caller's exit only drops a reference (should the
// shim have ended first, the caller tears it down itself: slower, no worse).
__attribute__((noreturn))
static void exit_quickly(int code)
{
	cli_marker("grun", NULL);
#ifndef SHIM_BESIDE
	// Every signal blocked first, so that the helper starts with none it could take: a
	// handler (attach's forward) would run C library code there.
	sigset_t all;
	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, NULL);
	int pidfd = (int)syscall(SYS_pidfd_open, getpid(), 0);
	if (pidfd >= 0)
		clone(teardown, teardown_stack + sizeof(teardown_stack), CLONE_VM, (void *)(intptr_t)pidfd);
#endif
	cli_exit(code);
}

// exit_code reads the exit frame's code ({"code":N,...}): -1 if there is none (the shim
// could not tell it).
static int exit_code(const char *p)
{
	static const char pre[] = "{\"code\":";
	if (strncmp(p, pre, sizeof(pre) - 1) != 0)
		return -1;
	p += sizeof(pre) - 1;
	int code = 0, digits = 0;
	for (; *p >= '0' && *p <= '9' && digits < 6; p++, digits++)
		code = code * 10 + (*p - '0');
	return digits > 0 && digits < 6 ? code : -1;
}

// attach is the caller's end of a run without -d: the output frames to its stdout and
// stderr until the exit frame, whose code is the run's.
__attribute__((noreturn))
static void attach(struct grun *g, int ctl, pid_t init)
{
	static const int sigs[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2 };
	// The C library's sigaction: it writes errno only on failure, which these cannot have.
	struct sigaction sa = { .sa_handler = forward, .sa_flags = SA_RESTART };
	sigemptyset(&sa.sa_mask);
	forward_to = init;
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigaction(sigs[i], &sa, NULL);
	struct sigaction ign = { .sa_handler = SIG_IGN };
	sigaction(SIGPIPE, &ign, NULL);
	static char buf[1 << 20];
	for (;;) {
		unsigned char hdr[5];
		if (cli_read_full(ctl, hdr, 5) < 0)
			break;
		uint32_t n = (uint32_t)hdr[1] << 24 | (uint32_t)hdr[2] << 16 | (uint32_t)hdr[3] << 8 | hdr[4];
		if (n > sizeof(buf) - 1 || cli_read_full(ctl, buf, n) < 0)
			break;
		if (hdr[0] == FRAME_STDOUT || hdr[0] == FRAME_STDERR) {
			cli_write_all(hdr[0] == FRAME_STDOUT ? 1 : 2, buf, n);
			continue;
		}
		if (hdr[0] != FRAME_EXIT)
			continue;
		buf[n] = '\0';
		int code = exit_code(buf);
		if (code < 0) {
			cli_say(2, "glassbox: the container's exit code is unknown: its shim died\n", NULL);
			code = 125;
		}
		exit_quickly(code);
	}
	cli_say(2, "glassbox: the shim of ", g->short_id, " ended the attach stream without an exit status (see ",
		g->dir, "/shim.log)\n", NULL);
	cli_marker("grun", NULL);
	cli_exit(125);
}

#ifdef SHIM_BESIDE
struct shim_args {
	struct grun *g;
	struct runc_entry *rt;
	int ready, ctl, drop[2];
};

static int shim_main(void *arg)
{
	struct shim_args *a = arg;
	for (int i = 0; i < 2; i++)
		if (a->drop[i] >= 0)
			close(a->drop[i]);
	shim(a->g, a->rt, a->ready, a->ctl);
}

// start_shim starts the shim beside this process (see above): on a stack of its own, 8 MiB
// as a main thread's, of which it touches a few pages; args static, as the shim reads them
// after this frame is gone.
static pid_t start_shim(struct grun *g, struct runc_entry *rt, int ready[2], int ctl[2])
{
	static struct shim_args a;
	a = (struct shim_args) { g, rt, ready[1], ctl[1], { ready[0], ctl[0] } };
	size_t size = 8 << 20;
	char *stack = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK | MAP_NORESERVE, -1, 0);
	if (stack == MAP_FAILED)
		return -1;
	mprotect(stack, 4096, PROT_NONE);	// a guard page
	pid_t pid = clone(shim_main, stack + size, CLONE_VM | SIGCHLD, &a);
	if (pid < 0)
		munmap(stack, size);
	return pid;
}

// again runs this command line again, in a new image of this binary, for Go: the shim has
// gone without the container running, and what it left in the memory it shared with this
// process (a lock it held, a half-written heap, should it have been killed) is unknown.
// _GLASSBOX_GRUN_GO tells glassbox_grun not to try; it takes it out of the environment.
__attribute__((noreturn))
static void again(void)
{
	size_t n = 0;
	while (environ[n] != NULL)
		n++;
	char *env[n + 2];
	env[0] = "_GLASSBOX_GRUN_GO=1";
	memcpy(env + 1, environ, (n + 1) * sizeof(char *));
	long r = cli_sys(SYS_execve, (long)"/proc/self/exe", (long)grun_argv, (long)env, 0);
	cli_say(2, "glassbox: run again for Go: execve /proc/self/exe: ", strerror((int)-r), "\n", NULL);
	cli_exit(125);
}
#endif

void grun_run(struct grun *g, struct runc_entry *rt)
{
	int detach = (g->flags & GF_DETACH) != 0;
	int ready[2], ctl[2] = { -1, -1 };
	if (pipe2(ready, O_CLOEXEC) < 0)
		return;
	if (!detach && socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ctl) < 0) {
		close(ready[0]);
		close(ready[1]);
		return;
	}
#ifdef SHIM_BESIDE
	pid_t pid = start_shim(g, rt, ready, ctl);
#else
	pid_t pid = fork();
	if (pid == 0) {
		close(ready[0]);
		if (ctl[0] >= 0)
			close(ctl[0]);
		shim(g, rt, ready[1], ctl[1]);
	}
#endif
	if (pid < 0) {
		for (int i = 0; i < 2; i++) {
			close(ready[i]);
			if (ctl[i] >= 0)
				close(ctl[i]);
		}
		return;	// no shim ran: Go, here
	}
	// From here, system calls only (cli_*) until the shim is gone.
	cli_sys(SYS_close, ready[1], 0, 0, 0);
	if (ctl[1] >= 0)
		cli_sys(SYS_close, ctl[1], 0, 0, 0);
	char msg[256];
	size_t n = 0;
	while (n < sizeof(msg) - 1) {
		long r = cli_sys(SYS_read, ready[0], (long)(msg + n), (long)(sizeof(msg) - 1 - n), 0);
		if (r == -EINTR)
			continue;
		if (r <= 0)
			break;
		int line = memchr(msg + n, '\n', r) != NULL;
		n += r;
		if (line)
			break;
	}
	msg[n] = '\0';
	cli_sys(SYS_close, ready[0], 0, 0, 0);
	int init = 0;
	if (msg[0] == 'S' && msg[1] == ' ') {
		for (const char *p = msg + 2; *p >= '0' && *p <= '9' && init < 100000000; p++)
			init = init * 10 + (*p - '0');
	}
	if (init > 0) {
		if (detach) {
			cli_say(1, g->id, "\n", NULL);
			exit_quickly(0);
		}
		attach(g, ctl[0], init);
	}
	if (msg[0] == 'E') {
		cli_say(2, "glassbox: start ", g->short_id, ": ", msg + 2, NULL);
		cli_marker("grun", NULL);
		cli_exit(125);
	}
	// "F", or nothing: the shim undid its part (or died before the container ran).
	for (;;) {
		long r = cli_sys(SYS_wait4, pid, 0, 0, 0);
		if (r != -EINTR)
			break;
	}
	cli_marker("again", g->id);
#ifdef SHIM_BESIDE
	again();
#else
	if (ctl[0] >= 0)
		close(ctl[0]);
#endif
}
