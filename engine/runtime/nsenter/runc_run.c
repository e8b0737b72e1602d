// `glassbox oci run` without Go, part two: the run of a cache entry (runc.c found it and
// checked its key), step for step what engine/runtime's Create, Start and Delete and
// cmd/glassbox's oci run do: the state directory and exec fifo, the read-only clone of this
// binary, the init started with the constructor's config (its C init runs the cached plan),
// the cgroup directories and files while its loader runs, the cgroup.procs joins, state.json
// once the init is ready, the exec fifo read, signals forwarded, the exit status, and the
// cgroups and state removed at the end. The trace is written as Go writes it. Until state.json
// is written, any failure undoes everything done and returns, so that Go runs the command
// from the start and reports the error in its own words; after, Start's error is reported.
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>

#include "initc_internal.h"
#include "jsonw.h"
#include "runc.h"
#include "kernel_compat.h"
#include "readfile.h"

// The constructor's messages (nsexec.c, which has no header of its own: the same numbers).
enum { NS_MSG_PID = 1 };


static volatile pid_t forward_to;

static void forward(int sig)
{
	if (forward_to > 0)
		kill(forward_to, sig);
}

static void reap(pid_t pid, int *status)
{
	int st = 0;
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR) ;
	if (status)
		*status = st;
}

// undo ends the init and removes what the run made, in Create's undo order.
static void undo(struct run *r)
{
	if (r->fifo_rd >= 0) {
		close(r->fifo_rd);
		r->fifo_rd = -1;
	}
	if (r->init > 0 && r->init != r->helper) {
		kill(r->init, SIGKILL);
		reap(r->init, NULL);
	}
	if (r->helper > 0) {
		kill(r->helper, SIGKILL);
		reap(r->helper, NULL);
	}
	for (int i = r->e->nops - 1; i >= 0; i--)
		if (r->made[i])
			runc_remove_cgroup(r->e->ops[i].path, 0);
	runc_remove_state(r);
	free(r->trace);
	r->trace = NULL;
}

// sealed_self is runtime's sealedSelf: a read-only detached clone of this binary's mount,
// at a descriptor above the init's few (CVE-2019-5736). -1: let Go do it (or its memfd).
static int sealed_self(void)
{
	int fd = glassbox_sealed_exe();
	if (fd < 0)
		return -1;
	int high = fcntl(fd, F_DUPFD_CLOEXEC, 100);
	close(fd);
	return high;
}

struct helper {
	int exe, src[3];
	char path[64];
};

static char *const helper_argv[] = { "glassbox", "runtime-init", NULL };
static char *const helper_envp[] = { "_GLASSBOX_NSENTER=5", NULL };

#ifdef GLASSBOX_RAW_SYSCALL
// The helper runs beside this process in its memory (start_helper): its system calls must
// write nothing this process uses, errno included.
#define HELPER_BESIDE 1
#define helper_syscall glassbox_raw_syscall

static int helper_main(void *arg)
{
	struct helper *h = arg;
	int src[3];
	for (int i = 0; i < 3; i++)
		if ((src[i] = (int)helper_syscall(SYS_fcntl, h->src[i], F_DUPFD_CLOEXEC, 10, 0)) < 0)
			helper_syscall(SYS_exit_group, 125, 0, 0, 0);
	for (int i = 0; i < 3; i++)
		if (helper_syscall(SYS_dup2, src[i], 3 + i, 0, 0) < 0)
			helper_syscall(SYS_exit_group, 125, 0, 0, 0);
	// Whatever else this process inherited stays out of the init (CVE-2024-21626).
	if (helper_syscall(SYS_close_range, 6, ~0U, 4 /* CLOSE_RANGE_CLOEXEC */, 0) < 0)
		for (int fd = 6; fd < 1024; fd++)
			if (fd != h->exe)
				helper_syscall(SYS_fcntl, fd, F_SETFD, FD_CLOEXEC, 0);
	// Go's run starts the init with every signal at its default action (its runtime catches
	// them all, and execve resets a caught one); one ignored by this process's caller would
	// stay ignored through execve, in the container's program too. The C library's own two
	// (32 and 33, which its sigaction refuses) are left as they are.
	struct {
		void *handler;
		unsigned long flags;
		void *restorer;
		uint64_t mask;
	} dfl = { 0 };
	for (int sig = 1; sig <= 64; sig++)
		if (sig != SIGKILL && sig != SIGSTOP && sig != 32 && sig != 33)
			helper_syscall(SYS_rt_sigaction, sig, (long)&dfl, 0, 8);
	helper_syscall(SYS_execve, (long)h->path, (long)helper_argv, (long)helper_envp, 0);
	helper_syscall(SYS_exit_group, 125, 0, 0, 0);
	return 0;
}
#else
static int helper_main(void *arg)
{
	struct helper *h = arg;
	int *src = h->src;
	for (int i = 0; i < 3; i++)
		if ((src[i] = fcntl(src[i], F_DUPFD_CLOEXEC, 10)) < 0)
			_exit(125);
	for (int i = 0; i < 3; i++)
		if (dup2(src[i], 3 + i) < 0)
			_exit(125);
	// Whatever else this process inherited stays out of the init (CVE-2024-21626).
	if (syscall(SYS_close_range, 6, ~0U, 4 /* CLOSE_RANGE_CLOEXEC */) < 0)
		for (int fd = 6; fd < 1024; fd++)
			if (fd != h->exe)
				fcntl(fd, F_SETFD, FD_CLOEXEC);
	// Go's run starts the init with every signal at its default action (its runtime catches
	// them all, and execve resets a caught one); one ignored by this process's caller would
	// stay ignored through execve, in the container's program too.
	struct sigaction dfl = { .sa_handler = SIG_DFL };
	sigemptyset(&dfl.sa_mask);
	for (int sig = 1; sig < NSIG; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			sigaction(sig, &dfl, NULL);	// EINVAL for the C library's own: left as they are
	execve(h->path, helper_argv, helper_envp);
	_exit(125);
}
#endif

// start_helper starts the init's first process: the sealed binary executed with the sync
// socket at 3, the fifo at 4 and the constructor's config socket at 5 (runtime's Create and
// nsenter's Cmd.Start), in a new PID namespace when the entry says so. It shares this
// process's memory until its execve (CLONE_VM, as posix_spawn does): no copy of this
// process's page tables, and no copy-on-write faults in it afterwards (each fault is costly
// under a hypervisor). Where the helper makes raw system calls (HELPER_BESIDE) this process
// goes on at once, the helper's execve (a new address space, the costly part) on the other
// processor: its stack and arguments are static, not in this frame. Elsewhere this process
// waits for the execve's point of no return (CLONE_VFORK), as posix_spawn does.
static pid_t start_helper(struct run *r, int exe, int sync_child, int fifo, int cfg_child)
{
	static struct helper h;
	h = (struct helper) { .exe = exe, .src = { sync_child, fifo, cfg_child } };
	snprintf(h.path, sizeof(h.path), "/proc/self/fd/%d", exe);
#ifdef HELPER_BESIDE
	static char stack[16 * 1024] __attribute__((aligned(16)));
	return clone(helper_main, stack + sizeof(stack), (int)r->e->clone_flags | CLONE_VM | SIGCHLD, &h);
#else
	char stack[32 * 1024] __attribute__((aligned(16)));
	return clone(helper_main, stack + sizeof(stack), (int)r->e->clone_flags | CLONE_VM | CLONE_VFORK | SIGCHLD, &h);
#endif
}

// make_cgroups does cgroups.Create's steps as the Go run recorded them.
static int make_cgroups(struct run *r)
{
	for (int i = 0; i < r->e->nops; i++) {
		struct runc_cgroup_op *o = &r->e->ops[i];
		int64_t t0 = runc_now();
		int rc = o->mkdir ? mkdir(o->path, 0755) : runc_write_file(o->path, o->value, strlen(o->value));
		if (rc < 0)
			return -1;	// EEXIST too: glassbox never takes over a cgroup it did not make
		r->made[i] = o->mkdir;
		runc_trace_add(r, o->frag, t0, runc_now(), getpid(), 0);
	}
	return 0;
}

static int join_cgroups(struct run *r)
{
	char pid[16];
	int n = snprintf(pid, sizeof(pid), "%d", r->helper);
	int64_t t0 = runc_now();
	for (int i = 0; i < r->e->nprocs; i++)
		if (runc_write_file(r->e->procs[i], pid, n) < 0)
			return -1;
	runc_trace_addf(r, t0, runc_now(), getpid(), "join", "write the init's PID to %d cgroup.procs files (while its loader runs)", r->e->nprocs);
	return 0;
}

// send_config sends the constructor its config (nsenter's Cmd.converse, its first half).
static int send_config(int sock, const char *cfg, size_t cfg_len)
{
	// send, not write: a helper that died must not end this process with SIGPIPE.
	for (const char *p = cfg, *end = p + cfg_len; p < end;) {
		ssize_t n = send(sock, p, end - p, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
	}
	return 0;
}

// converse_nsenter reads the constructor's answers to its config until it lets go of the
// socket: the PID that goes on (nsenter's Cmd.converse). No user namespace is cached.
static int converse_nsenter(struct run *r, int sock)
{
	int32_t pid = 0;
	for (;;) {
		uint32_t hdr[2];
		char payload[4096];
		ssize_t n = recv(sock, hdr, sizeof(hdr), MSG_WAITALL);
		if (n == 0)
			break;
		if (n != sizeof(hdr) || hdr[1] > sizeof(payload))
			return -1;
		if (hdr[1] > 0 && recv(sock, payload, hdr[1], MSG_WAITALL) != (ssize_t)hdr[1])
			return -1;
		if (hdr[0] != NS_MSG_PID || hdr[1] != 4)
			return -1;	// an error, or a user namespace's maps: Go says it
		memcpy(&pid, payload, 4);
	}
	if (pid <= 0)
		return -1;
	int newpid = (r->e->clone_flags & CLONE_NEWPID) != 0;
	if (pid == r->helper || (newpid && pid == 1)) {
		r->init = r->helper;
		return 0;
	}
	// The constructor forked (CLONE_PARENT: the init is our child too); it must have exited 0.
	int st;
	reap(r->helper, &st);
	r->helper = 0;
	r->init = pid;
	return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

static const struct runc_step *step_of(struct runc_entry *e, uint32_t index)
{
	for (int i = 0; i < e->nsteps; i++)
		if (e->steps[i].index == index)
			return &e->steps[i];
	return NULL;
}

// converse_init reads the C init's message: 0 when it says ready (its timings kept for
// init_timings, which makes them steps as plan.go's steps does).
static int converse_init(struct run *r, int sock)
{
	static char buf[256 * 1024];
	for (;;) {
		ssize_t n = recv(sock, buf, sizeof(buf), MSG_TRUNC);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < (ssize_t)sizeof(struct msg_hdr) || (size_t)n > sizeof(buf))
			return -1;
		struct msg_hdr h;
		memcpy(&h, buf, sizeof(h));
		if (h.ntimings > (n - sizeof(h)) / sizeof(struct timing))
			return -1;
		if (h.type != MSG_READY)
			return -1;	// an error (Go words it), or a console or hooks this entry cannot have
		// Its timings go into the trace later (init_timings), once the program runs: the
		// start waits for nothing but this message.
		r->ready_msg = buf;
		return 0;
	}
}

// init_timings adds the init's steps, which its ready message timed, to the trace.
static void init_timings(struct run *r)
{
	if (r->ready_msg == NULL)
		return;
	struct msg_hdr h;
	memcpy(&h, r->ready_msg, sizeof(h));
	for (uint32_t i = 0; i < h.ntimings; i++) {
		struct timing t;
		memcpy(&t, r->ready_msg + sizeof(h) + i * sizeof(t), sizeof(t));
		const struct runc_step *s = step_of(r->e, t.index);
		if (s == NULL || t.variant == VAR_SKIPPED)
			continue;
		if (s->flags & 1)
			runc_trace_add(r, r->e->text_init_execve, r->clone_began, t.start_ns, r->init, 0);
		const char *frag = t.variant == VAR_FILE && s->file[0] ? s->file : s->frag;
		runc_trace_add(r, frag, t.start_ns, t.start_ns + t.duration_ns, r->init, t.err);
	}
	r->ready_msg = NULL;
}

static void rfc3339(int64_t ns, char *out, size_t len)
{
	int n = json_civil_time(ns / 1000000000, out, len);
	if (n > 0 && (size_t)n < len)
		snprintf(out + n, len - n, ".%09lldZ", (long long)(ns % 1000000000));
}

// write_state writes state.json with the init's PID and start time (state.go's record); 0
// before there is an init. made says the cgroups it names exist, made by this run (state.go's
// CgroupsMade: without it, a state with no init names cgroups Delete must leave alone).
static int write_state(struct run *r, pid_t pid, int made)
{
	uint64_t start = 0;
	char pstate;
	if (pid > 0 && glassbox_proc_stat(pid, &pstate, &start) < 0)
		return -1;
	char created[64], origin[64];
	rfc3339(runc_now(), created, sizeof(created));
	rfc3339(r->e->origin, origin, sizeof(origin));
	size_t cap = strlen(r->e->state) + 256;
	char *b = malloc(cap);
	if (b == NULL)
		return -1;
	int n = snprintf(b, cap, "%s\"cgroups_made\":%s,\"pid\":%d,\"pid_start\":%llu,\"created\":\"%s\",\"trace_origin\":\"%s\"}",
			 r->e->state, made ? "true" : "false", pid, (unsigned long long)start, created, origin);
	if (n < 0 || (size_t)n >= cap) {
		free(b);
		return -1;
	}
	int rc = runc_write_atomic(r, "state.json", b, n);
	free(b);
	return rc;
}

// start is runtime's Start: the exec fifo opened for reading releases the init, which writes
// a byte, then holds its end until execve succeeds. A pidfd tells if the init dies first.
static int start(struct run *r)
{
	char path[sizeof(r->dir) + 16];
	snprintf(path, sizeof(path), "%s/exec.fifo", r->dir);
	int pidfd = syscall(SYS_pidfd_open, r->init, 0);
	if (pidfd < 0)
		return -1;
	int64_t began = runc_now();
	int fifo = r->fifo_rd >= 0 ? r->fifo_rd : open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	r->fifo_rd = -1;
	if (fifo < 0) {
		close(pidfd);
		return -1;
	}
	int64_t read_at = 0;
	int ok = -1;
	for (;;) {
		struct pollfd p[2] = { { fifo, POLLIN, 0 }, { pidfd, POLLIN, 0 } };
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (p[0].revents & POLLIN) {
			char c[64];
			ssize_t n = read(fifo, c, sizeof(c));
			if (n > 0 && !read_at) {
				read_at = runc_now();
				unlink(path);	// a running container has no fifo
				runc_trace_addf(r, began, read_at, getpid(), "start", "exec fifo read: init pid %d goes on to execve", r->init);
				ok = 0;
				continue;
			}
			if (n > 0)
				continue;
		}
		if (read_at && (p[0].revents & POLLHUP)) {
			runc_trace_add(r, r->e->text_prog_exec, read_at, runc_now(), r->init, 0);
			break;
		}
		if (p[1].revents & POLLIN)
			break;	// the init is gone: before its byte, a failure; after, a quick program
	}
	close(fifo);
	close(pidfd);
	return ok;
}

// write_trace writes the steps so far as trace.json; the buffer always has room for the ']'.
static void write_trace(struct run *r)
{
	// A whole template's run (grun_shim.c) writes its trace where the engine's containers
	// have theirs, once started: runc_write_trace_to.
	if (r->e->template == RUNC_TEMPLATE_WHOLE)
		return;
	init_timings(r);
	if (r->trace == NULL)
		return;
	r->trace[r->tlen] = ']';
	runc_write_atomic(r, "trace.json", r->trace, r->tlen + 1);
}

// finish is oci run's end: the status, then Delete's kill and removal of cgroups and state.
__attribute__((noreturn))
static void finish(struct run *r)
{
	int st = 0;
	reap(r->init, &st);
	forward_to = 0;
	for (int i = 0; i < r->e->nleaves; i++)
		runc_remove_cgroup(r->e->leaves[i], 0);
	runc_remove_state(r);
	runc_marker("c");
	if (WIFSIGNALED(st))
		_exit(128 + WTERMSIG(st));
	_exit(WEXITSTATUS(st));
}

static void forward_signals(pid_t pid)
{
	static const int sigs[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGCONT, SIGALRM };
	struct sigaction sa = { .sa_handler = forward, .sa_flags = SA_RESTART };
	sigemptyset(&sa.sa_mask);
	forward_to = pid;
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigaction(sigs[i], &sa, NULL);
	// SIGWINCH resizes a console this run has none of: nothing to forward.
}

// close_create closes what the create held open between its parts.
static void close_create(struct run *r)
{
	free(r->cfg);
	r->cfg = NULL;
	for (int *fd = (int[]) { r->fifo, r->exe, r->sync_fd, r->cfg_fd }, i = 0; i < 4; i++)
		if (fd[i] >= 0)
			close(fd[i]);
	r->fifo = r->exe = r->sync_fd = r->cfg_fd = -1;
}

int runc_spawn(struct run *r)
{
	struct runc_entry *e = r->e;
	int sync_pair[2] = { -1, -1 }, cfg_pair[2] = { -1, -1 };
	r->fifo = r->exe = r->sync_fd = r->cfg_fd = -1;
	r->cfg = NULL;
	r->cg_done = 0;
	r->ready_msg = NULL;
	r->fifo_rd = -1;
	if ((size_t)snprintf(r->dir, sizeof(r->dir), "%s/%s", e->root, e->id) >= sizeof(r->dir))
		return -1;
	// The init inherits 0, 1 and 2 as they are; a closed one would be taken by a socket here.
	for (int fd = 0; fd < 3; fd++)
		if (fcntl(fd, F_GETFD) < 0)
			return -1;
	if (e->log != NULL) {
		// Go's setup opens (makes) the log before anything; this run has nothing to log.
		int fd = open(e->log, O_CREAT | O_WRONLY | O_APPEND | O_CLOEXEC, 0644);
		if (fd < 0)
			return -1;
		close(fd);
	}
	// The exec fifo is made beside the state directory and moved into it after the clone:
	// the state directory's mkdir (0.2 ms on ext4 here) then overlaps the init's execve
	// rather than delaying it. Its name (a leading dot) is no container's.
	char fifo_tmp[sizeof(r->dir) + 16], fifo_path[sizeof(r->dir) + 16];
	if ((size_t)snprintf(fifo_tmp, sizeof(fifo_tmp), "%s/.%s.fifo", e->root, e->id) >= sizeof(fifo_tmp)
	    || (size_t)snprintf(fifo_path, sizeof(fifo_path), "%s/exec.fifo", r->dir) >= sizeof(fifo_path))
		return -1;
	int64_t looked_up = runc_now();	// the run cache's step ends as the runtime's begin
	// 0622 whatever the umask, owned by the container's root (no user namespace: 0).
	if (mkfifo(fifo_tmp, 0622) < 0)
		return -1;
	int fifo_moved = 0;
	if (chmod(fifo_tmp, 0622) < 0 || chown(fifo_tmp, 0, 0) < 0 || (r->fifo = open(fifo_tmp, O_PATH | O_CLOEXEC)) < 0)
		goto fail;
	int64_t t0 = runc_now();
	if ((r->exe = sealed_self()) < 0)
		goto fail;
	runc_trace_addf(r, t0, runc_now(), getpid(), "binary", "init runs glassbox from a open_tree+mount_setattr ro");
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sync_pair) < 0
	    || socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, cfg_pair) < 0)
		goto fail;
	r->sync_fd = sync_pair[0];
	r->cfg_fd = cfg_pair[0];
	r->clone_began = runc_now();
	r->helper = start_helper(r, r->exe, sync_pair[1], r->fifo, cfg_pair[1]);
	close(sync_pair[1]);
	close(cfg_pair[1]);
	sync_pair[1] = cfg_pair[1] = -1;
	if (r->helper < 0) {
		r->helper = 0;
		goto fail;
	}
	if (mkdir(r->dir, 0700) < 0)
		goto fail;	// it exists (Go says so in runc's words) or cannot be made
	r->made_dir = 1;
	runc_trace_addf(r, e->origin, looked_up, getpid(), "runcache", "%s", e->template == RUNC_TEMPLATE_WHOLE ?
		   "run in C (nsenter/grun.c): the template of this config holds, no Go starts" :
		   "oci run in C (nsenter/runc.c): the run cache of this bundle holds, no Go starts");
	if (rename(fifo_tmp, fifo_path) < 0)
		goto fail;
	fifo_moved = 1;
	// While the init's first process execs (it waits for its config).
	if ((r->cfg = runc_config(e, r->plan_later, &r->cfg_len, &r->cfg_split)) == NULL)
		goto fail;
	return 0;
fail:
	for (int *fd = (int[]) { sync_pair[0], sync_pair[1], cfg_pair[0], cfg_pair[1] }, i = 0; i < 4; i++)
		if (fd[i] >= 0 && fd[i] != r->sync_fd && fd[i] != r->cfg_fd)
			close(fd[i]);
	if (!fifo_moved)
		unlink(fifo_tmp);
	close_create(r);
	undo(r);
	return -1;
}

// runc_cgroups makes the cgroups and joins the init to them (start_helper returned once its
// execve was past the point of no return), while that execve goes on. As Create does, the
// state names the cgroups before they exist, so that a run killed before its final state
// leaves one Delete undoes, not cgroups nothing names. (In a thread of their own beside the
// rootfs's making, these steps made the run slower: the thread's creation cost more than the
// overlap gave, with the init's execve taking the other processor.)
int runc_cgroups(struct run *r)
{
	r->cg_done = 1;
	r->cg_rc = -1;
	if (write_state(r, 0, 0) < 0 || make_cgroups(r) < 0 || write_state(r, 0, 1) < 0 || join_cgroups(r) < 0)
		return -1;
	// Its cgroups joined, the init may make its namespaces: the config without the plan.
	if (r->plan_later && send_config(r->cfg_fd, r->cfg, r->cfg_split) < 0)
		return -1;
	return r->cg_rc = 0;
}

static int cgroups_end(struct run *r)
{
	return r->cg_done ? r->cg_rc : runc_cgroups(r);
}

int runc_configure(struct run *r)
{
	if (r->configured)
		return 0;
	size_t sent = r->plan_later ? r->cfg_split : 0;
	if (cgroups_end(r) < 0 || send_config(r->cfg_fd, r->cfg + sent, r->cfg_len - sent) < 0)
		return -1;
	r->configured = 1;
	return 0;
}

int runc_planned(struct run *r)
{
	struct runc_entry *e = r->e;
	if (runc_configure(r) < 0)
		goto fail;
	if (converse_nsenter(r, r->cfg_fd) < 0)
		goto fail;
	// The last reference to the detached mount: its release waits for an RCU grace period
	// (namespace_unlock), which now overlaps the init's plan rather than its execve.
	close(r->exe);
	r->exe = -1;
	runc_trace_add(r, e->clone_frag, r->clone_began, runc_now(), getpid(), 0);
	if (e->has_oom) {
		char p[64], v[16];
		snprintf(p, sizeof(p), "/proc/%d/oom_score_adj", r->init);
		int n = snprintf(v, sizeof(v), "%d", e->oom);
		int64_t t = runc_now();
		if (runc_write_file(p, v, n) < 0)
			goto fail;
		runc_trace_add(r, e->oom_frag, t, runc_now(), getpid(), 0);
	}
	close(r->cfg_fd);
	r->cfg_fd = -1;
	// The state with the init's PID while it runs its plan, not after: a failing plan
	// undoes it as it would the state before.
	if (write_state(r, r->init, 1) < 0)
		goto fail;
	return 0;
fail:
	close_create(r);
	undo(r);
	return -1;
}

int runc_ready(struct run *r)
{
	if (converse_init(r, r->sync_fd) < 0) {
		close_create(r);
		undo(r);
		return -1;
	}
	close(r->sync_fd);
	r->sync_fd = -1;
	close(r->fifo);
	r->fifo = -1;
	// As Create does: the trace is there as long as the state is; Start writes it again.
	write_trace(r);
	close_create(r);
	return 0;
}

int runc_created(struct run *r)
{
	return runc_planned(r) < 0 ? -1 : runc_ready(r);
}

int runc_create(struct run *r)
{
	return runc_spawn(r) < 0 ? -1 : runc_created(r);
}

void runc_abandon(struct run *r)
{
	close_create(r);
	undo(r);
}

void runc_write_trace_to(struct run *r, const char *path)
{
	init_timings(r);
	if (r->trace == NULL)
		return;
	r->trace[r->tlen] = ']';
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd >= 0) {
		runc_write_all(fd, r->trace, r->tlen + 1);
		close(fd);
	}
}

int runc_start_ahead(struct run *r)
{
	char path[sizeof(r->dir) + 16];
	snprintf(path, sizeof(path), "%s/exec.fifo", r->dir);
	if (r->fifo_rd < 0)
		r->fifo_rd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	return r->fifo_rd >= 0 ? 0 : -1;
}

int runc_start(struct run *r)
{
	int rc = start(r);
	write_trace(r);
	return rc;
}

void runc_undo(struct run *r)
{
	undo(r);
}

void runc_delete(struct run *r)
{
	runc_delete_into(r, NULL);
}

int runc_delete_into(struct run *r, const char *trash)
{
	for (int i = 0; i < r->e->nleaves; i++)
		runc_remove_cgroup(r->e->leaves[i], 0);
	// An ext4 rmdir of the state directory took 0.35 ms here (its block freed, and discarded
	// with the journal's commit), a rename 0.03 ms.
	int moved = trash != NULL && r->made_dir && rename(r->dir, trash) == 0;
	if (moved)
		r->made_dir = 0;
	else
		runc_remove_state(r);
	free(r->trace);
	r->trace = NULL;
	return moved;
}

void runc_run(struct runc_entry *e)
{
	struct run run = { .e = e };
	struct run *r = &run;
	if (runc_create(r) < 0)
		return;
	forward_signals(r->init);
	if (start(r) < 0) {
		// state.json was there for others to see (and `oci kill` may be why the init is
		// gone): no second run in Go, but Start's error, as Go's oci run reports it.
		forward_to = 0;
		int pid = r->init;
		undo(r);
		dprintf(2, "glassbox: start %s: the init (pid %d) exited before the program started\n", e->id, pid);
		runc_marker("c");
		_exit(1);
	}
	write_trace(r);
	finish(r);
}
