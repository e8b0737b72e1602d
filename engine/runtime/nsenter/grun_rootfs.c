// `glassbox run` without Go: the rootfs part of grun_create.c's container, as the engine's
// Create and snapshot make it: the overlay over the image's layers (volatile for --rm), the
// container's own files, and the spec's mount points made inside the rootfs.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include "grun.h"
#include "kernel_compat.h"

#define sub grun_path

// mount_overlay is snapshot's MountOverlay(Volatile) by fsconfig, lowerdir+ one by one.
int grun_mount_overlay(struct grun *g)
{
	char upper[PATH_MAX], work[PATH_MAX], rootfs[PATH_MAX];
	if (sub(g, upper, "upper") < 0 || sub(g, work, "work") < 0 || sub(g, rootfs, "rootfs") < 0)
		return -1;
	int fd = syscall(SYS_fsopen, "overlay", FSOPEN_CLOEXEC);
	if (fd < 0)
		return -1;
	int ok = 1;
	for (int i = 0; ok && i < g->nlowers; i++)
		ok = syscall(SYS_fsconfig, fd, FSCONFIG_SET_STRING, "lowerdir+", g->lowers[i], 0) == 0;
	if (ok && (g->flags & GF_AUTOREMOVE))
		ok = syscall(SYS_fsconfig, fd, FSCONFIG_SET_FLAG, "volatile", NULL, 0) == 0;
	ok = ok && syscall(SYS_fsconfig, fd, FSCONFIG_SET_STRING, "upperdir", upper, 0) == 0
	    && syscall(SYS_fsconfig, fd, FSCONFIG_SET_STRING, "workdir", work, 0) == 0
	    && syscall(SYS_fsconfig, fd, FSCONFIG_CMD_CREATE, NULL, NULL, 0) == 0;
	int mfd = ok ? syscall(SYS_fsmount, fd, FSMOUNT_CLOEXEC, 0) : -1;
	close(fd);
	if (mfd < 0)
		return -1;
	ok = syscall(SYS_move_mount, mfd, "", AT_FDCWD, rootfs, MOVE_MOUNT_F_EMPTY_PATH) == 0;
	close(mfd);
	if (ok)
		g->mounted = 1;
	return ok ? 0 : -1;
}

int grun_unmount(struct grun *g)
{
	char rootfs[PATH_MAX];
	if (!g->mounted || sub(g, rootfs, "rootfs") < 0)
		return 0;
	if (umount2(rootfs, UMOUNT_NOFOLLOW) < 0 && errno != EINVAL && errno != ENOENT)
		return -1;
	g->mounted = 0;
	return 0;
}

struct open_how_v0 {
	uint64_t flags, mode, resolve;
};

// open_in opens path in the rootfs as snapshot.Root does: resolved inside it, whatever its
// symbolic links say (openat2 RESOLVE_IN_ROOT).
static int open_in(int root, const char *path, int flags)
{
	struct open_how_v0 how = { (uint64_t)(flags | O_CLOEXEC), 0, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS };
	return syscall(SYS_openat2, root, path, &how, sizeof(how));
}

// mkdir_in is snapshot.Root's OpenDir(rel, true): each element made (0755) if missing.
static int mkdir_in(int root, const char *rel)
{
	char buf[PATH_MAX];
	if (strlen(rel) >= sizeof(buf))
		return -1;
	strcpy(buf, rel);
	for (char *p = buf;; p++) {
		if (*p == '/' || *p == '\0') {
			char c = *p;
			*p = '\0';
			int fd = open_in(root, buf, O_PATH | O_DIRECTORY);
			if (fd < 0) {
				char *slash = strrchr(buf, '/');
				int parent = slash ? (*slash = '\0', open_in(root, buf, O_PATH | O_DIRECTORY)) : dup(root);
				if (slash)
					*slash = '/';
				if (parent < 0)
					return -1;
				int rc = mkdirat(parent, slash ? slash + 1 : buf, 0755);
				close(parent);
				if (rc < 0 && errno != EEXIST)
					return -1;
				if ((fd = open_in(root, buf, O_PATH | O_DIRECTORY)) < 0)
					return -1;
			}
			close(fd);
			if (c == '\0')
				return 0;
			*p = c;
		}
	}
}

// mount_points is engine's makeMountPoints for the kinds the template recorded.
int grun_mount_points(struct grun *g)
{
	char rootfs[PATH_MAX];
	if (sub(g, rootfs, "rootfs") < 0)
		return -1;
	int root = open(rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (root < 0)
		return -1;
	int rc = 0;
	for (int i = 0; rc == 0 && i < g->nmps; i++) {
		struct jbuf rel = { 0 };
		grun_expand(g, g->mps[i].rel, strlen(g->mps[i].rel), &rel);
		jbuf_put(&rel, "", 1);
		if (rel.oom) {
			rc = -1;
			break;
		}
		if (g->mps[i].kind == MP_DIR) {
			rc = mkdir_in(root, rel.p);
		} else {
			char *slash = strrchr(rel.p, '/'), *base = rel.p;
			int dir = root;
			if (slash != NULL) {
				*slash = '\0';
				base = slash + 1;
				dir = mkdir_in(root, rel.p) == 0 ? open_in(root, rel.p, O_PATH | O_DIRECTORY) : -1;
			}
			if (dir < 0)
				rc = -1;
			else if (g->mps[i].kind == MP_TMPFS) {
				if (mkdirat(dir, base, 0755) == 0)
					fchmodat(dir, base, 01777, 0);
				else if (errno != EEXIST)
					rc = -1;
			} else {
				int fd = openat(dir, base, O_CREAT | O_EXCL | O_NOFOLLOW | O_WRONLY | O_CLOEXEC, 0644);
				if (fd >= 0)
					close(fd);
				else if (errno != EEXIST)
					rc = -1;
			}
			if (dir != root && dir >= 0)
				close(dir);
		}
		free(rel.p);
	}
	close(root);
	return rc;
}

int grun_write_files(struct grun *g, int config)
{
	for (int i = 0; i < g->nfiles; i++) {
		struct grun_outfile *f = &g->files[i];
		if ((strcmp(f->name, "config.json") == 0) != (config != 0))
			continue;
		struct jbuf b = { 0 };
		char path[PATH_MAX];
		if (sub(g, path, f->name) < 0 || grun_expand(g, f->data, f->len, &b) < 0) {
			free(b.p);
			return -1;
		}
		int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, f->mode);
		int ok = fd >= 0 && runc_write_all(fd, b.p, b.n) == 0 && fchmod(fd, f->mode) == 0;
		if (fd >= 0 && close(fd) < 0)
			ok = 0;
		free(b.p);
		if (!ok)
			return -1;
	}
	return 0;
}

