// `glassbox oci run` without Go, part three: runc_run.c's files - the trace it builds as
// engine/trace writes it, atomic writes of state.json and trace.json, cgroup files, and the
// removal of the cgroups and the state directory at the end.
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>

#include "runc.h"

// runc_trace_add appends one step: frag is its JSON up to the timings (runcache.go's fragment).
void runc_trace_add(struct run *r, const char *frag, int64_t start, int64_t end, int pid, int err)
{
	char tail[256], errtext[96] = "";
	if (err > 0) {
		snprintf(errtext, sizeof(errtext), ",\"error\":\"%s\"", strerror(err));
		errtext[10] = errtext[10] >= 'A' && errtext[10] <= 'Z' ? errtext[10] + 32 : errtext[10];
	} else if (err < 0)
		strcpy(errtext, ",\"error\":\"failed\"");
	int n = snprintf(tail, sizeof(tail), ",\"start_ns\":%lld,\"duration_ns\":%lld,\"pid\":%d%s}",
			 (long long)(start - r->e->origin), (long long)(end - start), pid, errtext);
	size_t need = strlen(frag) + n + 2;
	if (r->tlen + need + 2 > r->tcap) {
		size_t cap = (r->tcap + need) * 2;
		char *t = realloc(r->trace, cap);
		if (t == NULL)
			return;	// the trace is short of a step; the run goes on
		r->trace = t;
		r->tcap = cap;
	}
	r->tlen += sprintf(r->trace + r->tlen, "%s%s%s", r->tsteps++ ? "," : "[", frag, tail);
}

void runc_trace_addf(struct run *r, int64_t start, int64_t end, int pid, const char *step, const char *fmt, ...)
{
	char frag[512], detail[400];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	snprintf(frag, sizeof(frag), "{\"step\":\"%s\",\"detail\":\"%s\"", step, detail);
	runc_trace_add(r, frag, start, end, pid, 0);
}

int runc_write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= n;
	}
	return 0;
}

int runc_write_file(const char *path, const char *value, size_t len)
{
	int fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
	if (fd < 0)
		return -1;
	int r = runc_write_all(fd, value, len);
	int err = errno;
	close(fd);
	errno = err;
	return r;
}

// runc_replace is atomicfile's replace: an existing path is exchanged with tmp
// (renameat2 RENAME_EXCHANGE) and its old inode unlinked under tmp's name. A rename over
// an existing file has ext4 (auto_da_alloc) start the writeback of tmp's data before it
// returns: a block allocation and a disk write inside the rename, 60-80 us here, for
// records that are replaced or removed again within milliseconds. Exchanged, their pages
// stay in the page cache until the flusher's turn, and the old ones are dropped unwritten.
int runc_replace(const char *tmp, const char *path)
{
	struct stat st;
	if (renameat2(AT_FDCWD, tmp, AT_FDCWD, path, RENAME_EXCHANGE) == 0) {
		if (lstat(tmp, &st) == 0 && S_ISREG(st.st_mode)) {
			unlink(tmp);
			return 0;
		}
		// Not a file at path: put it back, and rename(2) says why tmp cannot go there.
		if (renameat2(AT_FDCWD, tmp, AT_FDCWD, path, RENAME_EXCHANGE) < 0)
			return -1;
	}
	if (rename(tmp, path) == 0)	// path missing (ENOENT), or no exchange here (EINVAL)
		return 0;
	int err = errno;
	unlink(tmp);
	errno = err;
	return -1;
}

// runc_write_atomic is atomicfile's Atomic: a temporary file in the same directory, put in
// place by runc_replace.
int runc_write_atomic(struct run *r, const char *name, const char *data, size_t len)
{
	char tmp[sizeof(r->dir) + 32], path[sizeof(r->dir) + 32];
	snprintf(tmp, sizeof(tmp), "%s/.%s.tmp", r->dir, name);
	snprintf(path, sizeof(path), "%s/%s", r->dir, name);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return -1;
	if (runc_write_all(fd, data, len) < 0) {
		close(fd);
		unlink(tmp);
		return -1;
	}
	if (close(fd) < 0) {
		unlink(tmp);
		return -1;
	}
	return runc_replace(tmp, path);
}

// runc_remove_cgroup removes dir and any cgroup the container made below it, children first,
// killing what is left in it and retrying while the kernel still counts it busy (engine/
// cgroups' Kill, WaitEmpty and removeTree).
void runc_remove_cgroup(const char *dir, int depth)
{
	// Most often the container made no cgroup below its own and its processes are gone: the
	// rmdir alone (a cgroup with children, or with processes, is EBUSY, then walked).
	if (rmdir(dir) == 0 || errno != EBUSY)
		return;
	char p[PATH_MAX];
	DIR *d = depth < 16 ? opendir(dir) : NULL;
	if (d != NULL) {
		struct dirent *de;
		while ((de = readdir(d)) != NULL)
			if (de->d_type == DT_DIR && strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0
			    && (size_t)snprintf(p, sizeof(p), "%s/%s", dir, de->d_name) < sizeof(p))
				runc_remove_cgroup(p, depth + 1);
		closedir(d);
	}
	struct timespec delay = { 0, 1000000 };
	for (int try = 0; try < 14; try++) {
		if (rmdir(dir) == 0 || errno == ENOENT || errno != EBUSY)
			return;
		// Busy: processes are left (the container's init has gone, which ends its PID
		// namespace, but they may still be exiting). cgroup.kill where there is one (v2),
		// else each PID in cgroup.procs.
		snprintf(p, sizeof(p), "%s/cgroup.kill", dir);
		if (runc_write_file(p, "1", 1) < 0) {
			snprintf(p, sizeof(p), "%s/cgroup.procs", dir);
			FILE *f = fopen(p, "re");
			if (f != NULL) {
				int pid;
				while (fscanf(f, "%d", &pid) == 1)
					if (pid > 0)
						kill(pid, SIGKILL);
				fclose(f);
			}
		}
		nanosleep(&delay, NULL);
		if (delay.tv_nsec < 200000000)
			delay.tv_nsec *= 2;
	}
}

void runc_remove_state(struct run *r)
{
	if (!r->made_dir)
		return;
	DIR *d = opendir(r->dir);
	if (d != NULL) {
		struct dirent *de;
		while ((de = readdir(d)) != NULL)
			if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
				unlinkat(dirfd(d), de->d_name, 0);
		closedir(d);
	}
	rmdir(r->dir);
	r->made_dir = 0;
}

