// `glassbox oci run` without Go, part one: a constructor that recognizes the plain form of the
// command line (`glassbox oci [--root R] [--log F] [--log-format F] run [-b B] ID`, as runc's
// callers write it) and finds the run cache entry engine/runtime/runcache.go wrote for the
// bundle after a Go run of it. If the entry's key holds (config.json, the rootfs and this
// binary are the same unchanged files, the same boot, the same cgroups and uid), runc_run
// (runc_run.c) does the whole run and the process exits without Go ever starting. Anything
// else - another flag, an ID Go refuses, no entry, a stale one, an environment asking for Go -
// and this returns having done nothing, so that Go's `oci run` runs as it always does.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>

#include "readfile.h"
#include "runc.h"
#include "kernel_compat.h"

#define MAX_CACHE (32 * 1024 * 1024)

int64_t runc_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void runc_marker(const char *what)
{
	const char *p = getenv("GLASSBOX_RUN_TRACE");
	if (p == NULL || *p == '\0')
		return;
	int fd = open(p, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (fd < 0)
		return;
	dprintf(fd, "%s\n", what);
	close(fd);
}

// clean_path is Go's filepath.Clean of an absolute path, into out (PATH_MAX): "." and empty
// elements go, ".." takes the element before it. -1 if it does not fit.
static int clean_path(const char *in, char *out)
{
	size_t n = 0;
	out[n++] = '/';
	for (const char *p = in; *p;) {
		while (*p == '/')
			p++;
		const char *e = p;
		while (*e && *e != '/')
			e++;
		size_t len = e - p;
		if (len == 0 || (len == 1 && p[0] == '.')) {
		} else if (len == 2 && p[0] == '.' && p[1] == '.') {
			while (n > 1 && out[n - 1] != '/')
				n--;
			if (n > 1)
				n--;
		} else {
			if (n + len + 2 > PATH_MAX)
				return -1;
			if (n > 1)
				out[n++] = '/';
			memcpy(out + n, p, len);
			n += len;
		}
		p = e;
	}
	out[n] = '\0';
	return 0;
}

// abs_path is Go's filepath.Abs: os.Getwd prefers $PWD when it names the working directory.
static int abs_path(const char *in, char *out)
{
	char buf[PATH_MAX * 2];
	if (in[0] == '/')
		return strlen(in) < PATH_MAX ? clean_path(in, out) : -1;
	char cwd[PATH_MAX];
	const char *pwd = getenv("PWD");
	struct stat a, b;
	if (pwd != NULL && pwd[0] == '/' && strlen(pwd) < PATH_MAX && stat(pwd, &a) == 0 && stat(".", &b) == 0
	    && a.st_dev == b.st_dev && a.st_ino == b.st_ino)
		strcpy(cwd, pwd);
	else if (getcwd(cwd, sizeof(cwd)) == NULL)
		return -1;
	if ((size_t)snprintf(buf, sizeof(buf), "%s/%s", cwd, in) >= PATH_MAX)
		return -1;
	return clean_path(buf, out);
}

// flag_value matches --name V or --name=V at argv[*i]; it returns V and moves past it.
static const char *flag_value(char **argv, int argc, int *i, const char *name)
{
	size_t n = strlen(name);
	const char *a = argv[*i];
	if (strncmp(a, name, n) != 0)
		return NULL;
	if (a[n] == '=')
		return a + n + 1;
	if (a[n] != '\0' || *i + 1 >= argc)
		return NULL;
	(*i)++;
	return argv[*i];
}

// parse_args fills root, log, bundle and id from the plain form of the command line; -1 for
// anything else (which Go then runs, or refuses with its own message).
static int parse_args(int argc, char **argv, const char **root, const char **log, const char **bundle, const char **id)
{
	int i = 1;
	if (!glassbox_is_base(argv[0], "glassbox-oci") && !glassbox_is_base(argv[0], "runc")) {
		if (argc < 2 || strcmp(argv[1], "oci") != 0)
			return -1;
		i = 2;
	}
	*root = "/run/glassbox";
	*log = NULL;
	for (; i < argc && strcmp(argv[i], "run") != 0; i++) {
		const char *v;
		if ((v = flag_value(argv, argc, &i, "--root")) != NULL)
			*root = v;
		else if ((v = flag_value(argv, argc, &i, "--log")) != NULL)
			*log = v;
		else if ((v = flag_value(argv, argc, &i, "--log-format")) != NULL) {
			if (strcmp(v, "text") != 0 && strcmp(v, "json") != 0)
				return -1;
		} else if ((v = flag_value(argv, argc, &i, "--rootless")) != NULL) {
			if (strcmp(v, "auto") != 0 && strcmp(v, "true") != 0 && strcmp(v, "false") != 0)
				return -1;
		} else
			return -1;
	}
	if (i == argc)
		return -1;
	*bundle = ".";
	*id = NULL;
	for (i++; i < argc; i++) {
		const char *v;
		if ((v = flag_value(argv, argc, &i, "--bundle")) != NULL || (v = flag_value(argv, argc, &i, "-b")) != NULL)
			*bundle = v;
		else if (strcmp(argv[i], "--no-subreaper") == 0)
			continue;
		else if (argv[i][0] == '-' || *id != NULL)
			return -1;
		else
			*id = argv[i];
	}
	return *id != NULL && **id != '\0' && **bundle != '\0' ? 0 : -1;
}

static uint64_t fnv1a64(const char *s)
{
	uint64_t h = 14695981039346656037ULL;
	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ULL;
	}
	return h;
}

// read_cache returns the entry file's bytes, NUL-terminated, or NULL.
static char *read_cache(const char *root, const char *bundle, size_t *len)
{
	char path[PATH_MAX];
	if ((size_t)snprintf(path, sizeof(path), "%s/.runcache/run-%016llx", root, (unsigned long long)fnv1a64(bundle)) >= sizeof(path))
		return NULL;
	return glassbox_read_record(path, 1, MAX_CACHE, len);
}

// strings_of splits a payload of NUL-terminated strings into out; -1 unless exactly n.
int runc_strings_of(const char *p, uint32_t len, const char **out, int n)
{
	const char *end = p + len;
	for (int i = 0; i < n; i++) {
		const char *nul = memchr(p, '\0', end - p);
		if (nul == NULL)
			return -1;
		out[i] = p;
		p = nul + 1;
	}
	return p == end ? 0 : -1;
}

// check_stat: an RC_STAT record still holds.
int runc_check_stat(const char *p, uint32_t len)
{
	if (len < 8 + 40 + 1)
		return -1;
	uint32_t what, mode;
	int64_t v[5];
	memcpy(&what, p, 4);
	memcpy(&mode, p + 4, 4);
	memcpy(v, p + 8, 40);
	const char *path;
	if (runc_strings_of(p + 48, len - 48, &path, 1) < 0)
		return -1;
	struct stat st;
	if (stat(path, &st) < 0)
		return -1;
	if (what == STAT_TYPE)
		return (st.st_mode & S_IFMT) == (mode & S_IFMT) ? 0 : -1;
	int64_t have[5] = { (int64_t)st.st_dev, (int64_t)st.st_ino, st.st_size,
		(int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec,
		(int64_t)st.st_ctim.tv_sec * 1000000000 + st.st_ctim.tv_nsec };
	return what == STAT_IDENTITY && st.st_mode == mode && memcmp(have, v, sizeof(have)) == 0 ? 0 : -1;
}

// check_file: a small file (/proc/self/cgroup, boot_id) has exactly the recorded contents.
int runc_check_file(const char *p, uint32_t len)
{
	const char *nul = memchr(p, '\0', len);
	if (nul == NULL)
		return -1;
	const char *want = nul + 1;
	size_t wantlen = len - (want - p);
	char buf[8192];
	int fd = open(p, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	size_t got = 0;
	for (;;) {
		ssize_t n = read(fd, buf + got, sizeof(buf) - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += n;
		if (got == sizeof(buf))
			break;
	}
	close(fd);
	return got == wantlen && got < sizeof(buf) && memcmp(buf, want, got) == 0 ? 0 : -1;
}

// has_mark: s holds a mark of a whole template (a path of the container being made).
static int has_mark(const char *s)
{
	return strchr(s, RUNC_ID_MARK) != NULL || strchr(s, RUNC_SHORT_MARK) != NULL;
}

// load_entry checks every key record and collects the rest; -1 if anything does not hold.
// whole: the entry is a whole template (runcache_tmpl.go) for grun.c, which made the
// container's bundle and rootfs itself: the key records naming them are not checked.
static int load_entry(struct runc_entry *e, char *buf, size_t len, int whole)
{
	const char *p = buf, *end = buf + len;
	int version = 0, keys = 0;
	while (p < end) {
		uint32_t hdr[2];
		if (end - p < 8)
			return -1;
		memcpy(hdr, p, 8);
		p += 8;
		uint32_t type = hdr[0], n = hdr[1];
		if ((size_t)(end - p) < n)
			return -1;
		const char *s[3];
		uint32_t u[2];
		if (type != RC_VERSION && !version)
			return -1;
		switch (type) {
		case RC_VERSION:
			if (n != 4)
				return -1;
			memcpy(u, p, 4);
			if (u[0] != RUNC_CACHE_VERSION)
				return -1;
			version = 1;
			break;
		case RC_ID:
			if (runc_strings_of(p, n, s, 1) < 0 || strcmp(s[0], e->id) != 0)
				return -1;
			keys |= 1;
			break;
		case RC_TEMPLATE:
			// Any ID Go would take: one it refuses is Go's to refuse.
			if (n != 4 || !runc_valid_id(e->id))
				return -1;
			memcpy(u, p, 4);
			if (u[0] != (whole ? RUNC_TEMPLATE_WHOLE : 1))
				return -1;
			e->template = u[0];
			keys |= 1;
			break;
		case RC_PLAN:
			e->plan = p;
			e->plan_len = n;
			break;
		case RC_PLAN_MARKS:
			if (n % 8 != 0)
				return -1;
			e->plan_marks = p;
			e->nplan_marks = n / 8;
			break;
		case RC_BUNDLE:
			if (runc_strings_of(p, n, s, 1) < 0)
				return -1;
			if (whole && e->template == RUNC_TEMPLATE_WHOLE && (s[0] = runc_expand(e, s[0])) == NULL)
				return -1;
			if (strcmp(s[0], e->bundle) != 0)
				return -1;
			keys |= 2;
			break;
		case RC_STAT:
			if (whole && n > 48 && has_mark(p + 48))
				break;	// the new container's config.json, rootfs or /etc file
			if (runc_check_stat(p, n) < 0)
				return -1;
			keys |= 4;
			break;
		case RC_FILE:
			if (runc_check_file(p, n) < 0)
				return -1;
			keys |= 8;
			break;
		case RC_UID:
			if (n != 4)
				return -1;
			memcpy(u, p, 4);
			if (u[0] != getuid() || u[0] != geteuid())
				return -1;
			keys |= 16;
			break;
		case RC_CGROUP_MKDIR:
		case RC_CGROUP_WRITE:{
				if (e->nops == RUNC_MAX_CGROUP_OPS)
					return -1;
				struct runc_cgroup_op *o = &e->ops[e->nops++];
				o->mkdir = type == RC_CGROUP_MKDIR;
				if (o->mkdir) {
					if (runc_strings_of(p, n, s, 2) < 0)
						return -1;
					o->path = s[0], o->value = NULL, o->frag = s[1];
				} else {
					if (runc_strings_of(p, n, s, 3) < 0)
						return -1;
					o->path = s[0], o->value = s[1], o->frag = s[2];
				}
				if (o->path[0] != '/')
					return -1;
				break;
			}
		case RC_CGROUP_PROCS:
		case RC_CGROUP_LEAF:{
				const char **arr = type == RC_CGROUP_PROCS ? e->procs : e->leaves;
				int *cnt = type == RC_CGROUP_PROCS ? &e->nprocs : &e->nleaves;
				if (*cnt == RUNC_MAX_CGROUPS || runc_strings_of(p, n, s, 1) < 0 || s[0][0] != '/')
					return -1;
				arr[(*cnt)++] = s[0];
				break;
			}
		case RC_NSENTER:
			e->nsenter = p;
			e->nsenter_len = n;
			break;
		case RC_CLONE:
			if (n < 5 || runc_strings_of(p + 4, n - 4, s, 1) < 0)
				return -1;
			memcpy(&e->clone_flags, p, 4);
			e->clone_frag = s[0];
			break;
		case RC_OOM_SCORE_ADJ:
			if (n < 5 || runc_strings_of(p + 4, n - 4, s, 1) < 0)
				return -1;
			memcpy(&e->oom, p, 4);
			e->oom_frag = s[0];
			e->has_oom = 1;
			break;
		case RC_STATE:
			if (runc_strings_of(p, n, s, 1) < 0)
				return -1;
			e->state = s[0];
			break;
		case RC_STEP:{
				if (e->nsteps == RUNC_MAX_STEPS || n < 9 || runc_strings_of(p + 8, n - 8, s, 2) < 0)
					return -1;
				struct runc_step *st = &e->steps[e->nsteps++];
				memcpy(&st->index, p, 4);
				memcpy(&st->flags, p + 4, 4);
				st->frag = s[0];
				st->file = s[1];
				break;
			}
		case RC_TEXT:
			if (n < 5 || runc_strings_of(p + 4, n - 4, s, 1) < 0)
				return -1;
			memcpy(u, p, 4);
			if (u[0] == TEXT_INIT_EXECVE)
				e->text_init_execve = s[0];
			else if (u[0] == TEXT_PROG_EXEC)
				e->text_prog_exec = s[0];
			break;
		default:
			return -1;	// a newer glassbox wrote it: Go knows
		}
		p += n;
	}
	if (keys != 31 || e->nsenter == NULL || e->plan == NULL || e->clone_frag == NULL || e->state == NULL
	    || e->nleaves == 0 || e->text_init_execve == NULL || e->text_prog_exec == NULL)
		return -1;
	return runc_expand_entry(e);
}

int runc_load_template(struct runc_entry *e, char *buf, size_t len)
{
	return load_entry(e, buf, len, 1);
}

void glassbox_runc(int argc, char **argv)
{
	if (argc < 3 || argv == NULL)
		return;
	const char *mode = getenv("GLASSBOX_RUN"), *init = getenv("GLASSBOX_INIT");
	if ((mode != NULL && strcmp(mode, "go") == 0) || (init != NULL && strcmp(init, "go") == 0))
		return;
	const char *root, *log, *bundle, *id;
	if (parse_args(argc, argv, &root, &log, &bundle, &id) < 0)
		return;
	// With SIGCHLD ignored (inherited through execve) the kernel reaps the init unseen: the
	// wait for it would find no status, and the run would exit 0 whatever the container's.
	// Go's runtime catches SIGCHLD, so its run sees the status.
	struct sigaction chld;
	if (sigaction(SIGCHLD, NULL, &chld) < 0 || chld.sa_handler == SIG_IGN || (chld.sa_flags & SA_NOCLDWAIT))
		return;
	int64_t origin = runc_now();
	static char rootabs[PATH_MAX], bundleabs[PATH_MAX];
	if (abs_path(root, rootabs) < 0 || abs_path(bundle, bundleabs) < 0)
		return;
	size_t len;
	char *buf = read_cache(rootabs, bundleabs, &len);
	if (buf == NULL)
		return;
	struct runc_entry *e = calloc(1, sizeof(*e));
	if (e == NULL) {
		free(buf);
		return;
	}
	e->root = rootabs;
	e->id = id;
	e->bundle = bundleabs;
	e->log = log;
	e->origin = origin;
	if (load_entry(e, buf, len, 0) == 0)
		runc_run(e);
	runc_free_entry(e);
	free(e);
	free(buf);
}
