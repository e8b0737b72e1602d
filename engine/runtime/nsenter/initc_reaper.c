// The reaper of `glassbox run --init` (the spec annotation org.glassbox.init=reaper): docker's
// --init (tini) without a binary in the container. At the very end of initc_exec, once every
// security step is applied (user, capabilities, no_new_privs, seccomp), the init forks: the
// child execve's the program exactly as without --init, and the parent stays the container's
// PID 1, with no more privilege than the program, to forward signals and reap orphans.
//
// It is tini's default behaviour (tini.c): every signal but the synchronous ones is blocked
// and taken with sigwaitinfo(2); each is sent on to the child alone (tini's -g would send it to
// the child's process group); SIGCHLD reaps every zombie (orphans are re-parented to PID 1,
// pid_namespaces(7)); when the child is reaped the reaper exits with its code, or 128+N when
// signal N killed it, and the kernel kills what is left in the PID namespace. The child gets a
// process group of its own and, when stdin is a terminal, the terminal's foreground, so that
// ^C, ^Z and SIGWINCH reach the program and not the reaper.
//
// CVE-2019-5736: the reaper is the glassbox init that never executed anything, so /proc/1/exe
// is the file the init was executed from: the read-only detached mount of the binary
// (engine/runtime/exe.go's sealedSelf; a sealed memfd where the kernel lacks open_tree), which
// no one can open for writing (EROFS, EPERM for the memfd); the reaper is also non-dumpable,
// so the program cannot even open it. The reaper allocates nothing and keeps only descriptors
// 0 to 2.
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "initc.h"
#include "initc_internal.h"

char *initc_title_area;
size_t initc_title_len;

// The signals the kernel sends a process for what it did itself: they stay unblocked, or a
// fault in the reaper would hang it. SIGTTIN and SIGTTOU are tini's too: the reaper ignores
// them rather than pass them on.
static const int unwaited[] = { SIGFPE, SIGILL, SIGSEGV, SIGBUS, SIGABRT, SIGTRAP, SIGSYS, SIGTTIN, SIGTTOU };

static void waited_set(sigset_t *set)
{
	sigfillset(set);
	for (size_t i = 0; i < sizeof(unwaited) / sizeof(unwaited[0]); i++)
		sigdelset(set, unwaited[i]);
}

// set_title makes ps and top say what PID 1 is: "glassbox-init" over the init's own
// arguments ("glassbox runtime-init 0"), in place, its trailing bytes NUL (procfs then shows
// the area as it is, and ps drops the trailing NULs); too short an area keeps them.
static void set_title(void)
{
	static const char title[] = "glassbox-init";
	prctl(PR_SET_NAME, title, 0, 0, 0);
	if (initc_title_area == NULL || initc_title_len < sizeof(title))
		return;
	memset(initc_title_area, 0, initc_title_len);
	memcpy(initc_title_area, title, sizeof(title));
}

// reap_all waits for every zombie without blocking; it returns the child's exit code as the
// shell would say it once the child is among them, else -1.
static int reap_all(pid_t child)
{
	int code = -1;
	for (;;) {
		int status;
		// __WALL: a child made with clone(2) and no exit signal is reaped too.
		pid_t p = waitpid(-1, &status, WNOHANG | __WALL);
		if (p < 0 && errno == EINTR)
			continue;
		if (p <= 0)
			return code;	// 0: others still run; ECHILD: nobody left
		if (p != child)
			continue;
		if (WIFEXITED(status))
			code = WEXITSTATUS(status);
		else if (WIFSIGNALED(status))
			code = 128 + WTERMSIG(status);
	}
}

__attribute__((noreturn))
static void reaper(pid_t child, int fifo, const sigset_t *waited)
{
	// The fifo's write end first: Start reads the fifo to its end to see the program's
	// execve, and the child's copy goes at that execve.
	close(fifo);
	// Nothing else is needed: the caller's preserved descriptors (--preserve-fds) are the
	// program's.
	if (syscall(SYS_close_range, 3, ~0U, 0) < 0)
		dprintf(2, "glassbox-init: close_range: %s\n", strerror(errno));
	// Non-dumpable again, as the init was until initc_exec: the program runs as the same user
	// with the same capabilities and could otherwise ptrace the reaper or read its memory,
	// which still holds the plan (host paths of the rootfs, mounts and cgroups; hooks). Its
	// /proc/1 then belongs to root and needs CAP_SYS_PTRACE, which docker's set lacks; ps
	// still reads its stat, status and cmdline.
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
		dprintf(2, "glassbox-init: prctl PR_SET_DUMPABLE: %s\n", strerror(errno));
	struct sigaction ign = { .sa_handler = SIG_IGN };
	sigemptyset(&ign.sa_mask);
	sigaction(SIGTTIN, &ign, NULL);
	sigaction(SIGTTOU, &ign, NULL);
	// Not PID 1 (a container without a PID namespace of its own): orphans of the program
	// come to the reaper all the same (PR_SET_CHILD_SUBREAPER, prctl(2)).
	if (getpid() != 1 && prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0)
		dprintf(2, "glassbox-init: prctl PR_SET_CHILD_SUBREAPER: %s\n", strerror(errno));
	set_title();
	for (;;) {
		siginfo_t si;
		int sig = sigwaitinfo(waited, &si);
		if (sig < 0) {
			if (errno == EINTR)
				continue;
			// A seccomp profile of the user's own may refuse it: go on reaping, say the
			// signals stop here.
			dprintf(2, "glassbox-init: sigwaitinfo: %s: signals are no longer passed on\n", strerror(errno));
			for (;;) {
				int status;
				pid_t p = waitpid(-1, &status, __WALL);
				if (p < 0 && errno != EINTR)
					_exit(126);
				if (p == child)
					_exit(WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
			}
		}
		if (sig != SIGCHLD && kill(child, sig) < 0 && errno != ESRCH)
			dprintf(2, "glassbox-init: pass signal %d to pid %d: %s\n", sig, child, strerror(errno));
		int code = reap_all(child);
		if (code >= 0)
			_exit(code);
	}
}

// initc_reaper_fork forks the program off the init. It returns in the child, which goes on to
// execve; the parent becomes the reaper and never returns. fifo is the exec fifo's write end.
void initc_reaper_fork(int fifo)
{
	sigset_t waited, old;
	waited_set(&waited);
	// Blocked before the fork: a signal sent meanwhile waits for the reaper, which passes it
	// on, rather than ending the init through its on_signal (initc.c).
	if (sigprocmask(SIG_BLOCK, &waited, &old) < 0)
		initc_exit_after_ready(126, "--init: sigprocmask: %s", strerror(errno));
	pid_t child = fork();
	if (child < 0)
		initc_exit_after_ready(126, "--init: fork the program: %s", strerror(errno));
	if (child > 0)
		reaper(child, fifo, &waited);
	if (setpgid(0, 0) < 0)
		initc_exit_after_ready(126, "--init: setpgid: %s", strerror(errno));
	// Allowed from a background group because SIGTTOU is blocked here (tcsetpgrp(3)). ENOTTY:
	// stdin is no terminal; ENXIO: tini's case of a terminal gone.
	if (tcsetpgrp(0, getpgrp()) < 0 && errno != ENOTTY && errno != ENXIO)
		initc_exit_after_ready(126, "--init: tcsetpgrp: %s", strerror(errno));
	// The init's handlers (initc.c's on_signal) would end the child on a signal pending
	// since the fork: the program's defaults apply from here, as execve would set them.
	struct sigaction dfl = { .sa_handler = SIG_DFL };
	sigemptyset(&dfl.sa_mask);
	for (int sig = 1; sig < NSIG; sig++)
		if (sig == SIGHUP || sig == SIGINT || sig == SIGTERM || sig == SIGQUIT)
			sigaction(sig, &dfl, NULL);
	if (sigprocmask(SIG_SETMASK, &old, NULL) < 0)
		initc_exit_after_ready(126, "--init: sigprocmask: %s", strerror(errno));
}
