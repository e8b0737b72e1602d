// `glassbox run` without Go, part two: the container made from the run template as the
// engine's Create makes it (engine/containers.go): the image leased under the image store's
// lock, the name reserved, the directory and record, the upper, work and rootfs directories,
// then grun_rootfs.c's overlay, files and mount points; and what its shim does at the end (the
// record, events, --rm's removal). Until the
// container starts, any failure undoes everything (grun_undo) and Go runs the command.
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include "grun.h"
#include "kernel_compat.h"
#include "readfile.h"

int grun_new_id(struct grun *g)
{
	unsigned char rnd[32];
	if (getrandom(rnd, sizeof(rnd), 0) != sizeof(rnd))
		return -1;
	for (int i = 0; i < 32; i++)
		snprintf(g->id + 2 * i, 3, "%02x", rnd[i]);
	memcpy(g->short_id, g->id, 12);
	g->short_id[12] = '\0';
	return (size_t)snprintf(g->dir, sizeof(g->dir), "%s/containers/%s", g->root, g->id) < sizeof(g->dir) ? 0 : -1;
}

int grun_path(struct grun *g, char *out, const char *name)
{
	return (size_t)snprintf(out, PATH_MAX, "%s/%s", g->dir, name) < PATH_MAX ? 0 : -1;
}

#define sub grun_path

// grun_expand appends s (len bytes) with the ID, short ID and name for their marks.
int grun_expand(struct grun *g, const char *s, size_t len, struct jbuf *out)
{
	// The whole size first, and one allocation of it: grown a byte at a time, doubling, a
	// config.json's buffer was realloc'd and copied a dozen times over fresh pages.
	size_t need = out->n + 2, id = strlen(g->id), short_id = strlen(g->short_id), name = strlen(g->cname);
	for (size_t i = 0; i < len; i++)
		need += s[i] == RUNC_ID_MARK ? id : s[i] == RUNC_SHORT_MARK ? short_id : s[i] == GRUN_NAME_MARK ? name : 1;
	if (!out->oom && need > out->cap) {
		char *p = realloc(out->p, need);
		if (p == NULL)
			out->oom = 1;
		else
			out->p = p, out->cap = need;
	}
	for (size_t i = 0; i < len; i++) {
		if (s[i] == RUNC_ID_MARK)
			jbuf_puts(out, g->id);
		else if (s[i] == RUNC_SHORT_MARK)
			jbuf_puts(out, g->short_id);
		else if (s[i] == GRUN_NAME_MARK)
			jbuf_puts(out, g->cname);
		else
			jbuf_put(out, s + i, 1);
	}
	return out->oom ? -1 : 0;
}

// write_atomic is atomicfile.WriteFile: a temporary file put in path's place (runc_replace);
// synced: fsync'd before.
static int write_atomic(const char *path, const char *data, size_t len, mode_t mode, int synced)
{
	char tmp[PATH_MAX + 32];
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp-grun-%d", path, getpid()) >= sizeof(tmp))
		return -1;
	int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
	if (fd < 0)
		return -1;
	int ok = runc_write_all(fd, data, len) == 0 && (!synced || fsync(fd) == 0);
	if (close(fd) < 0)
		ok = 0;
	if (!ok) {
		unlink(tmp);
		return -1;
	}
	return runc_replace(tmp, path);
}

static int lock_images(struct grun *g)
{
	int fd = open(g->image_lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return -1;
	while (flock(fd, LOCK_EX) < 0)
		if (errno != EINTR) {
			close(fd);
			return -1;
		}
	return fd;
}

// lease is image.Store.AcquireWith's lease: under the store's lock, the image still there;
// fsync'd unless the container is --rm's (acquireImage).
static int lease(struct grun *g)
{
	char path[PATH_MAX], rec[PATH_MAX];
	const char *hex = strrchr(g->lease_dir, '/');
	if (hex == NULL || (size_t)snprintf(path, sizeof(path), "%s/%s", g->lease_dir, g->id) >= sizeof(path)
	    || (size_t)snprintf(rec, sizeof(rec), "%s/images/records/%s.json", g->root, hex + 1) >= sizeof(rec))
		return -1;
	int lock = lock_images(g);
	if (lock < 0)
		return -1;
	int rc = -1;
	struct jbuf when = { 0 };
	jbuf_time(&when);
	jbuf_put(&when, "\n", 1);
	if (access(rec, F_OK) == 0 && (mkdir(g->lease_dir, 0700) == 0 || errno == EEXIST) && !when.oom
	    && write_atomic(path, when.p, when.n, 0600, !(g->flags & GF_AUTOREMOVE)) == 0) {
		g->leased = 1;
		rc = 0;
	}
	free(when.p);
	close(lock);
	return rc;
}

int grun_release_lease(struct grun *g)
{
	if (!g->leased)
		return 0;
	// No lock: the image's lease directory stays (image.Store.RemoveLease), and an rmi that
	// reads it sees the lease or not, as it would before or after a locked unlink.
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/%s", g->lease_dir, g->id);
	int rc = unlink(path) < 0 && errno != ENOENT ? -1 : 0;
	g->leased = 0;
	return rc;
}

// valid_name is state's validName.
static int valid_name(const char *s)
{
	if (*s == '\0' || strlen(s) > 128)
		return 0;
	for (size_t i = 0; s[i]; i++) {
		char c = s[i];
		int alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
		if (!alnum && (i == 0 || (c != '_' && c != '.' && c != '-')))
			return 0;
	}
	return 1;
}

// generate_name is state's generateName.
static void generate_name(struct grun *g, int try)
{
	static const char *adjectives[] = { "brave", "calm", "eager", "fond", "keen", "lucid", "quiet", "sharp", "swift", "wise" };
	static const char *nouns[] = { "curie", "dijkstra", "hopper", "knuth", "lovelace", "noether", "ritchie", "thompson", "torvalds", "turing" };
	unsigned b0 = 0, b1 = 0;
	sscanf(g->id, "%2x%2x", &b0, &b1);
	int off = 4 + 4 * (try % 15);
	snprintf(g->cname, sizeof(g->cname), "%s_%s_%.4s", adjectives[b0 % 10], nouns[b1 % 10], g->id + off);
}

// reserve is state's reserveName for a name free now: a taken one (even a stale
// reservation) is Go's to report or take over.
static int reserve(struct grun *g)
{
	char path[PATH_MAX];
	for (int try = 0; try < 8; try++) {
		if (g->name == NULL)
			generate_name(g, try);
		if ((size_t)snprintf(path, sizeof(path), "%s/names/%s", g->root, g->cname) >= sizeof(path))
			return -1;
		int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd >= 0) {
			int ok = runc_write_all(fd, g->id, 64) == 0;
			close(fd);
			g->named = 1;
			return ok ? 0 : -1;
		}
		if (errno != EEXIST || g->name != NULL)
			return -1;
	}
	return -1;
}

static void release_name(struct grun *g)
{
	if (!g->named)
		return;
	char path[PATH_MAX], owner[80];
	snprintf(path, sizeof(path), "%s/names/%s", g->root, g->cname);
	if (glassbox_read_small(path, owner, sizeof(owner), O_NOFOLLOW) == 64 && memcmp(owner, g->id, 64) == 0)
		unlink(path);
	g->named = 0;
}

static void add_field(struct jbuf *b, const char *key, long long v)
{
	char s[64];
	snprintf(s, sizeof(s), ",\"%s\":%lld", key, v);
	jbuf_puts(b, s);
}

static void add_time(struct jbuf *b, const char *key, int64_t ns)
{
	jbuf_puts(b, ",\"");
	jbuf_puts(b, key);
	jbuf_puts(b, "\":\"");
	jbuf_time_at(b, ns);
	jbuf_puts(b, "\"");
}

// grun_write_record writes state.json as state.Record marshals (compact): Get reads it alike.
int grun_write_record(struct grun *g, const char *status, pid_t pid, pid_t shim, uint64_t shim_start,
		      int64_t started, int64_t finished, int code, int oom, const char *cgroups_json)
{
	struct jbuf b = { 0 };
	jbuf_puts(&b, "{\"id\":\"");
	jbuf_puts(&b, g->id);
	jbuf_puts(&b, "\",\"name\":");
	jbuf_string(&b, g->cname, strlen(g->cname), JSON_MARSHAL);
	jbuf_puts(&b, ",\"image\":");
	jbuf_puts(&b, g->rec_image);
	jbuf_puts(&b, ",\"imageId\":");
	jbuf_puts(&b, g->rec_image_id);
	jbuf_puts(&b, ",\"command\":");
	jbuf_puts(&b, g->rec_command);
	add_time(&b, "created", g->created);
	jbuf_puts(&b, ",\"status\":");
	jbuf_string(&b, status, strlen(status), JSON_MARSHAL);
	if (strcmp(status, "creating") == 0) {
		add_field(&b, "creatorPid", getpid());
		add_field(&b, "creatorStart", (long long)g->self_start);
	}
	if (pid > 0)
		add_field(&b, "pid", pid);
	if (shim > 0) {
		add_field(&b, "shimPid", shim);
		add_field(&b, "shimStart", (long long)shim_start);
	}
	add_field(&b, "exitCode", code);
	if (oom)
		jbuf_puts(&b, ",\"oomKilled\":true");
	if (started)
		add_time(&b, "startedAt", started);
	if (finished)
		add_time(&b, "finishedAt", finished);
	jbuf_puts(&b, ",\"lowers\":");
	jbuf_puts(&b, g->rec_lowers);
	if (cgroups_json != NULL) {
		jbuf_puts(&b, ",\"cgroupPaths\":");
		jbuf_puts(&b, cgroups_json);
	}
	jbuf_puts(&b, ",\"options\":");
	grun_expand(g, g->rec_options, strlen(g->rec_options), &b);
	if (g->flags & GF_AUTOREMOVE)
		jbuf_puts(&b, ",\"ephemeral\":true");
	jbuf_puts(&b, "}");
	char path[PATH_MAX];
	int rc = b.oom || sub(g, path, "state.json") < 0 ? -1 : write_atomic(path, b.p, b.n, 0600, !(g->flags & GF_AUTOREMOVE));
	free(b.p);
	return rc;
}

// grun_event appends a lifecycle event as shim.AppendEventWith marshals its map: keys sorted.
void grun_event(struct grun *g, const char *action, int code)
{
	struct jbuf b = { 0 };
	jbuf_puts(&b, "{\"Action\":");
	jbuf_string(&b, action, strlen(action), JSON_MARSHAL);
	if (code >= 0) {
		char c[48];
		snprintf(c, sizeof(c), ",\"Attributes\":{\"exitCode\":\"%d\"}", code);
		jbuf_puts(&b, c);
	}
	jbuf_puts(&b, ",\"id\":\"");
	jbuf_puts(&b, g->id);
	jbuf_puts(&b, "\",\"image\":");
	jbuf_puts(&b, g->rec_image);
	jbuf_puts(&b, ",\"name\":");
	jbuf_string(&b, g->cname, strlen(g->cname), JSON_MARSHAL);
	jbuf_puts(&b, ",\"time\":\"");
	jbuf_time(&b);
	jbuf_puts(&b, "\"}\n");
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/events.json", g->root);
	int fd = b.oom ? -1 : open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (fd >= 0) {
		runc_write_all(fd, b.p, b.n);
		close(fd);
	}
	free(b.p);
}


// lock_start takes the new container's start.lock before its record exists, as Go's start
// holds it from before its shim runs until the shim reports: an rm -f, stop or kill that
// finds the record waits for it (engine's afterStart) rather than acts on a container half
// made, whose runtime state it would delete under the shim.
static int lock_start(struct grun *g)
{
	char path[PATH_MAX];
	if (sub(g, path, "start.lock") < 0 || (g->start_lock = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) < 0)
		return -1;
	return flock(g->start_lock, LOCK_EX | LOCK_NB);	// a new directory: nobody else has it
}

void grun_unlock_start(struct grun *g)
{
	if (g->start_lock >= 0)
		close(g->start_lock);
	g->start_lock = -1;
}

int grun_create(struct grun *g)
{
	g->created = runc_now();
	g->start_lock = -1;
	if (g->name != NULL) {
		const char *n = g->name + (g->name[0] == '/');
		if (!valid_name(n))
			return -1;	// Go says what is wrong with it
		snprintf(g->cname, sizeof(g->cname), "%s", n);
	}
	if (lease(g) < 0 || reserve(g) < 0)
		goto fail;
	if (mkdir(g->dir, 0711) < 0)
		goto fail;
	g->made_dir = 1;
	if (lock_start(g) < 0 || grun_write_record(g, "creating", 0, 0, 0, 0, 0, 0, 0, NULL) < 0)
		goto fail;
	static const char *dirs[] = { "upper", "work", "rootfs" };
	for (int i = 0; i < 3; i++) {
		char path[PATH_MAX];
		if (sub(g, path, dirs[i]) < 0 || mkdir(path, 0755) < 0)
			goto fail;
	}
	if (grun_mount_overlay(g) < 0 || grun_write_files(g, 0) < 0 || grun_mount_points(g) < 0)
		goto fail;
	return 0;
fail:
	grun_undo(g);
	return -1;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if (flag == FTW_DP)
		rmdir(path);
	else
		unlink(path);
	return 0;
}

// grun_remove_tree removes dir and everything under it, on its filesystem only. nftw stops at
// the first entry it cannot stat or open (one removed meanwhile, by a teardown still under
// way): while dir is there, it walks again, a few times, a millisecond apart.
void grun_remove_tree(const char *dir)
{
	struct stat st;
	for (int i = 0; i < 10 && lstat(dir, &st) == 0; i++) {
		if (i > 0)
			nanosleep(&(struct timespec) { 0, 1000000 }, NULL);
		nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
	}
}

// grun_prune_tombstones is state.bury's prune: the records ROOT/exits keeps for a minute
// after a removal (named ID.UNIXNANOS), older ones deleted, at most every state.PruneEvery
// (ROOT/exits/.pruned's mtime says when last).
void grun_prune_tombstones(struct grun *g)
{
	char dir[PATH_MAX], path[PATH_MAX];
	if ((size_t)snprintf(dir, sizeof(dir), "%s/exits", g->root) >= sizeof(dir)
	    || (size_t)snprintf(path, sizeof(path), "%s/.pruned", dir) >= sizeof(path))
		return;
	int64_t now = runc_now();
	struct stat st;
	if (stat(path, &st) == 0) {
		int64_t age = now - ((int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec);
		if (age >= 0 && age < 10LL * 1000000000)	// state.PruneEvery
			return;
	}
	int mark = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (mark >= 0) {
		futimens(mark, NULL);
		close(mark);
	}
	DIR *d = opendir(dir);
	if (d == NULL)
		return;
	int64_t cutoff = now - 60LL * 1000000000;	// state.TombstoneLife
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		const char *dot = strchr(de->d_name, '.');
		char *end;
		long long ns = dot ? strtoll(dot + 1, &end, 10) : 0;
		if ((dot == NULL || *end != '\0' || ns < cutoff)
		    && (size_t)snprintf(path, sizeof(path), "%s/%s", dir, de->d_name) < sizeof(path))
			unlink(path);
	}
	closedir(d);
}

void grun_undo(struct grun *g)
{
	grun_unmount(g);
	if (g->made_dir && !g->mounted) {
		grun_remove_tree(g->dir);
		g->made_dir = 0;
	}
	release_name(g);
	grun_release_lease(g);
	grun_unlock_start(g);	// a waiter then finds no container
}
