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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/file.h>
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

// name_shim makes the forked shim look as engine/shim's does in ps and /proc/PID/cmdline
// ("glassbox shim --root ROOT ID", cut to the bytes the caller's arguments had) and comm.
static void name_shim(struct grun *g)
{
	prctl(PR_SET_NAME, "glassbox-shim", 0, 0, 0);
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
// (a pthread_create at the end cost 0.15 ms there) that waits for the exit.
struct deleter {
	struct run *r;
	sem_t go;
	pthread_t thread;
	int started;
};

static void *delete_runtime(void *arg)
{
	struct deleter *d = arg;
	while (sem_wait(&d->go) < 0 && errno == EINTR) ;
	runc_delete(d->r);
	return NULL;
}

static void start_deleter(struct deleter *d, struct run *r)
{
	d->r = r;
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
		runc_delete(d->r);
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

// shim runs in the forked child; it never returns. ready gets "F" (undone: Go runs it), or
// "S PID" once the program runs; ctl is the caller's attach stream (-1 with -d).
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

__attribute__((noreturn))
static void shim(struct grun *g, struct runc_entry *rt, int ready, int ctl)
{
	setsid();
	// One malloc arena: the runtime's cgroups thread would otherwise map an arena of its own
	// and write its first pages, for the few small buffers it allocates.
	mallopt(M_ARENA_MAX, 1);
	name_shim(g);
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
	struct cshim s = { .dir = g->dir, .out = out[0], .err = err[0], .first = ctl };
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
		grun_event(g, "start", -1);
	} else
		say(ready, "E the init exited before the program started\n");
	close(ready);
	grun_unlock_start(g);
	if (grun_path(g, path, "trace.json") == 0)
		runc_write_trace_to(&r, path);
	struct deleter deleter = { 0 };
	start_deleter(&deleter, &r);
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
	if (g->flags & GF_AUTOREMOVE)
		grun_prune_tombstones(g);
	_exit(0);
undo:
	grun_undo(g);
fallback:
	say(ready, "F\n");
	_exit(0);
}

static volatile pid_t forward_to;

static void forward(int sig)
{
	if (forward_to > 0)
		kill(forward_to, sig);
}

static int read_full(int fd, void *buf, size_t n)
{
	for (size_t got = 0; got < n;) {
		ssize_t r = read(fd, (char *)buf + got, n - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		got += r;
	}
	return 0;
}

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

__attribute__((noreturn))
static void exit_quickly(int code)
{
	// Every signal blocked first, so that the helper starts with none it could take: a
	// handler (attach's forward) would run C library code there.
	sigset_t all;
	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, NULL);
	int pidfd = (int)syscall(SYS_pidfd_open, getpid(), 0);
	if (pidfd >= 0)
		clone(teardown, teardown_stack + sizeof(teardown_stack), CLONE_VM, (void *)(intptr_t)pidfd);
	_exit(code);
}

// attach is the caller's end of a run without -d: the output frames to its stdout and
// stderr until the exit frame, whose code is the run's.
__attribute__((noreturn))
static void attach(struct grun *g, int ctl, pid_t init)
{
	static const int sigs[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2 };
	struct sigaction sa = { .sa_handler = forward, .sa_flags = SA_RESTART };
	sigemptyset(&sa.sa_mask);
	forward_to = init;
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigaction(sigs[i], &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	static char buf[1 << 20];
	for (;;) {
		unsigned char hdr[5];
		if (read_full(ctl, hdr, 5) < 0)
			break;
		uint32_t n = (uint32_t)hdr[1] << 24 | (uint32_t)hdr[2] << 16 | (uint32_t)hdr[3] << 8 | hdr[4];
		if (n > sizeof(buf) - 1 || read_full(ctl, buf, n) < 0)
			break;
		if (hdr[0] == FRAME_STDOUT || hdr[0] == FRAME_STDERR) {
			runc_write_all(hdr[0] == FRAME_STDOUT ? 1 : 2, buf, n);
			continue;
		}
		if (hdr[0] != FRAME_EXIT)
			continue;
		buf[n] = '\0';
		int code = -1;
		if (sscanf(buf, "{\"code\":%d", &code) != 1 || code < 0) {
			dprintf(2, "glassbox: the container's exit code is unknown: its shim died\n");
			code = 125;
		}
		runc_marker("grun");
		exit_quickly(code);
	}
	dprintf(2, "glassbox: the shim of %s ended the attach stream without an exit status (see %s/shim.log)\n", g->short_id, g->dir);
	runc_marker("grun");
	_exit(125);
}

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
	pid_t pid = fork();
	if (pid == 0) {
		close(ready[0]);
		if (ctl[0] >= 0)
			close(ctl[0]);
		shim(g, rt, ready[1], ctl[1]);
	}
	close(ready[1]);
	if (ctl[1] >= 0)
		close(ctl[1]);
	char msg[256];
	ssize_t n = 0;
	while (pid > 0 && (size_t)n < sizeof(msg) - 1) {
		ssize_t r = read(ready[0], msg + n, sizeof(msg) - 1 - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0 || memchr(msg + n, '\n', r) != NULL) {
			n += r > 0 ? r : 0;
			break;
		}
		n += r;
	}
	msg[n] = '\0';
	close(ready[0]);
	int init = 0;
	if (pid > 0 && sscanf(msg, "S %d", &init) == 1 && init > 0) {
		if (detach) {
			dprintf(1, "%s\n", g->id);
			runc_marker("grun");
			exit_quickly(0);
		}
		attach(g, ctl[0], init);
	}
	if (pid > 0 && msg[0] == 'E') {
		dprintf(2, "glassbox: start %s: %s", g->short_id, msg + 2);
		runc_marker("grun");
		_exit(125);
	}
	// "F", or nothing: the shim undid its part (or died before the container ran).
	if (pid > 0)
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) ;
	if (ctl[0] >= 0)
		close(ctl[0]);
}
