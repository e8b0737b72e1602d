// The C init's root filesystem steps (initc.c runs them): mounts on targets opened inside the
// rootfs, pivot_root, masked and read-only paths, rootfs.go's Go init step for step.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/vfs.h>

#include "initc_internal.h"

struct open_how_v0 {
	uint64_t flags, mode, resolve;
};

static int openat2_in(int dir, const char *path, int flags, uint64_t resolve)
{
	struct open_how_v0 how = { (uint64_t)(flags | O_CLOEXEC), 0, resolve };
	return syscall(SYS_openat2, dir, path, &how, sizeof(how));
}

// resolve_in_root is rootfs.go's resolveInRoot: path inside the rootfs open at root with
// every symlink on the way replaced by what it names, as if root were "/" (".." stops at the
// root, an absolute link restarts from it); missing parts are kept as given.
static int resolve_in_root(int root, const char *path, char *out, size_t outlen)
{
	char rest[2 * PATH_MAX], tmp[2 * PATH_MAX], cand[PATH_MAX], target[PATH_MAX];
	if (snprintf(rest, sizeof(rest), "%s", path) >= (int)sizeof(rest))
		return ENAMETOOLONG;
	char *r = rest;
	size_t ol = 0;
	int links = 0;
	out[0] = '\0';
	for (;;) {
		while (*r == '/')
			r++;
		if (*r == '\0')
			return 0;
		char *end = strchrnul(r, '/');
		size_t cl = end - r;
		char comp[NAME_MAX + 1];
		if (cl > NAME_MAX)
			return ENAMETOOLONG;
		memcpy(comp, r, cl);
		comp[cl] = '\0';
		r = end;
		if (strcmp(comp, ".") == 0)
			continue;
		if (strcmp(comp, "..") == 0) {
			char *p = strrchr(out, '/');
			ol = p ? (size_t)(p - out) : 0;
			out[ol] = '\0';
			continue;
		}
		if (snprintf(cand, sizeof(cand), ol ? "%s/%s" : "%s%s", out, comp) >= (int)sizeof(cand))
			return ENAMETOOLONG;
		ssize_t n = readlinkat(root, cand, target, sizeof(target) - 1);
		if (n < 0) {
			// Not a symlink (EINVAL), or not there yet (ENOENT, ENOTDIR): take it as is.
			if (strlen(cand) >= outlen)
				return ENAMETOOLONG;
			strcpy(out, cand);
			ol = strlen(out);
			continue;
		}
		target[n] = '\0';
		if (++links > 255)
			return ELOOP;
		if (target[0] == '/') {
			ol = 0;
			out[0] = '\0';
		}
		if (snprintf(tmp, sizeof(tmp), "%s/%s", target, r) >= (int)sizeof(tmp))
			return ENAMETOOLONG;
		strcpy(rest, tmp);
		r = rest;
	}
}

// initc_open_in_root is rootfs.go's openInRoot: open path inside the rootfs open at root, making
// missing directories (and the last component as an empty file when file is set), every
// symlink resolved inside the root; strict refuses symlinks altogether.
int initc_open_in_root(int root, const char *path, const char *clean, int file, int strict)
{
	uint64_t resolve = RESOLVE_IN_ROOT | (strict ? RESOLVE_NO_SYMLINKS : RESOLVE_NO_MAGICLINKS);
	char rel[PATH_MAX];
	int err = resolve_in_root(root, path, rel, sizeof(rel));
	if (err)
		return initc_fail(err, "resolve %s in the rootfs", path);
	if (strict && strcmp(rel, clean) != 0)
		return initc_fail(ELOOP, "open %s in the rootfs: {errno} (a symlink is on the way)", path);
	// Into /proc only where the spec says so (runc's checkProcMount looks at the resolved
	// target too): followed there, an image symlink would put a volume over /proc/1, the
	// init's own /proc/self, which the init goes through later (CVE-2025-52881's class).
	if ((strcmp(rel, "proc") == 0 || strncmp(rel, "proc/", 5) == 0) && strcmp(rel, clean) != 0)
		return initc_fail(0, "open %s in the rootfs: a symlink leads it into /proc", path);
	if (rel[0] == '\0') {
		int fd = openat2_in(root, ".", O_PATH | O_DIRECTORY, resolve);
		return fd >= 0 ? fd : initc_fail(errno, "open %s in the rootfs", path);
	}
	int fd = openat2_in(root, rel, O_PATH, resolve);
	if (fd >= 0)
		return fd;
	if (errno != ENOENT)
		return initc_fail(errno, "open %s in the rootfs", path);
	// Make it one component at a time, each created relative to its resolved parent.
	int dir = openat2_in(root, ".", O_PATH | O_DIRECTORY, resolve);
	if (dir < 0)
		return initc_fail(errno, "open %s in the rootfs", path);
	char *p = rel;
	for (;;) {
		char *slash = strchr(p, '/');
		int last = slash == NULL;
		if (slash)
			*slash = '\0';
		int next = openat2_in(dir, p, O_PATH, resolve);
		if (next < 0 && errno == ENOENT) {
			err = ENOENT;
			if (last && file) {
				int f = openat(dir, p, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0644);
				if (f >= 0)
					close(f);
				else if (errno != EEXIST)
					err = errno;
			} else if (mkdirat(dir, p, 0755) < 0 && errno != EEXIST) {
				err = errno;
			}
			if (err == ENOENT) {
				next = openat2_in(dir, p, O_PATH, resolve);
				err = next < 0 ? errno : 0;
			}
		} else if (next < 0) {
			err = errno;
		}
		close(dir);
		if (next < 0)
			return initc_fail(err, "make %s in the rootfs", path);
		dir = next;
		if (last)
			return dir;
		p = slash + 1;
	}
}

int initc_mount(struct op *o)
{
	char src[64], dst[64];
	const char *source = o->s[0], *target = o->s[1];
	if (o->a[1] >= 0)
		source = initc_fd_path(initc_slot(o->a[1]), src, sizeof(src));
	if (o->a[2] >= 0)
		target = initc_fd_path(initc_slot(o->a[2]), dst, sizeof(dst));
	// As x/sys/unix.Mount: no data is NULL, some filesystems refuse "".
	if (mount(source, target, o->s[2], o->a[0], o->n[3] ? o->s[3] : NULL) < 0)
		return initc_fail(errno, "%s", "");
	return 0;
}

int initc_pivot_root(const char *rootfs)
{
	int oldroot = open("/", O_DIRECTORY | O_RDONLY | O_CLOEXEC);
	if (oldroot < 0)
		return initc_fail(errno, "open /");
	int newroot = open(rootfs, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
	if (newroot < 0)
		return initc_fail(errno, "open %s", rootfs);
	if (fchdir(newroot) < 0)
		return initc_fail(errno, "fchdir rootfs");
	// pivot_root(".", ".") stacks the old root on the new one; unmounting "." then drops it
	// (pivot_root(2), NOTES), with no directory to make in the rootfs.
	if (syscall(SYS_pivot_root, ".", ".") < 0)
		return initc_fail(errno, "pivot_root %s", rootfs);
	if (fchdir(oldroot) < 0)
		return initc_fail(errno, "fchdir old root");
	// Slave first, so the unmount does not propagate to the host's mounts.
	if (mount("", ".", "", MS_SLAVE | MS_REC, NULL) < 0)
		return initc_fail(errno, "make old root rslave");
	if (umount2(".", MNT_DETACH) < 0)
		return initc_fail(errno, "unmount old root");
	if (chdir("/") < 0)
		return initc_fail(errno, "chdir /");
	close(oldroot);
	close(newroot);
	return 0;
}

int initc_chroot(const char *rootfs)
{
	if (chdir(rootfs) < 0)
		return initc_fail(errno, "chdir %s", rootfs);
	if (mount(rootfs, "/", NULL, MS_MOVE, NULL) < 0)
		return initc_fail(errno, "mount --move %s /", rootfs);
	if (chroot(".") < 0)
		return initc_fail(errno, "chroot");
	if (chdir("/") < 0)
		return initc_fail(errno, "chdir /");
	return 0;
}

// initc_write_sysctl writes a file of /proc/sys on the container's procfs and nowhere else
// (CVE-2025-52881's class): /proc must be a procfs, and the file is opened under it with no
// symlink and no other mount on the way, so that a mount over /proc/sys (an image symlink at
// a volume's destination leads one there) cannot send the write to another file.
int initc_write_sysctl(const char *path, const char *data, size_t len)
{
	const char *rel = strncmp(path, "/proc/", 6) == 0 ? path + 6 : path;
	int proc = open("/proc", O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (proc < 0)
		return initc_fail(errno, "write %s: open /proc", path);
	struct statfs sfs;
	if (fstatfs(proc, &sfs) < 0) {
		int err = errno;
		close(proc);
		return initc_fail(err, "write %s: fstatfs /proc", path);
	}
	if (sfs.f_type != PROC_SUPER_MAGIC) {
		close(proc);
		return initc_fail(0, "write %s: /proc is not a procfs", path);
	}
	int fd = openat2_in(proc, rel, O_WRONLY, RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_XDEV);
	int err = errno;
	close(proc);
	// Worded as init.go's errors are.
	if (fd < 0)
		return initc_fail(err, "write %s: open %s", path, path);
	ssize_t n = write(fd, data, len);
	err = errno;
	close(fd);
	if (n != (ssize_t) len)
		return initc_fail(n < 0 ? err : EIO, "write %s: write %s", path, path);
	return 0;
}

// initc_lsm_exec is engine/runtime/lsm's SetExec: the profile or label for the next execve,
// written to this thread's attr/exec under the checked procfs (by PID and TID: thread-self is
// a symlink, which the open refuses). AppArmor has a directory of its own on kernels that
// stack modules, attr/exec before that.
int initc_lsm_exec(struct op *o)
{
	char path[96], data[4096];
	const char *attrs[2] = { "attr/exec", NULL };
	const char *value = o->s[0];
	size_t len = o->n[0];
	if (o->a[0] == LSM_APPARMOR) {
		attrs[0] = "attr/apparmor/exec";
		attrs[1] = "attr/exec";
		int n = snprintf(data, sizeof(data), "exec %s", o->s[0]);
		if (n < 0 || (size_t)n >= sizeof(data))
			return initc_fail(ENAMETOOLONG, "apparmor profile");
		value = data;
		len = n;
	} else if (o->a[0] != LSM_SELINUX)
		return initc_fail(EINVAL, "unknown security module %lld", (long long)o->a[0]);
	for (int i = 0; i < 2 && attrs[i] != NULL; i++) {
		snprintf(path, sizeof(path), "/proc/%d/task/%d/%s", (int)getpid(), (int)gettid(), attrs[i]);
		if (initc_write_sysctl(path, value, len) == 0)
			return 0;
		if (initc_err != ENOENT || i == 1 || attrs[i + 1] == NULL)
			return -1;
	}
	return -1;
}

int initc_check_null(struct op *o)
{
	int fd = open("/dev/null", O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return initc_fail(errno, "%s", "");
	struct stat st;
	if (fstat(fd, &st) < 0)
		return initc_fail(errno, "%s", "");
	if (!S_ISCHR(st.st_mode) || st.st_rdev != makedev(1, 3))
		return initc_fail(0, "/dev/null is not the null device");
	initc_set_slot(o->a[0], fd);
	return 0;
}

// initc_mask hides a path: an empty read-only tmpfs over a directory, the checked /dev/null
// over anything else; a symlink is refused (what it names is not what the spec hides).
int initc_mask(struct op *o)
{
	const char *p = o->s[0];
	char src[64], dst[64];
	int fd = open(p, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT) {
		initc_variant = VAR_SKIPPED;
		return 0;
	}
	if (fd < 0)
		return initc_fail(errno, "open %s", p);
	struct stat st;
	if (fstat(fd, &st) < 0)
		return initc_fail(errno, "stat %s", p);
	int r = 0;
	if (S_ISDIR(st.st_mode)) {
		if (mount("tmpfs", initc_fd_path(fd, dst, sizeof(dst)), "tmpfs", MS_RDONLY, "size=0,mode=0555") < 0)
			r = initc_fail(errno, "mount tmpfs on %s", p);
	} else if (S_ISLNK(st.st_mode)) {
		r = initc_fail(0, "%s is a symlink", p);
	} else {
		initc_variant = VAR_FILE;
		if (mount(initc_fd_path(initc_slot(o->a[0]), src, sizeof(src)), initc_fd_path(fd, dst, sizeof(dst)), "", MS_BIND, NULL) < 0)
			r = initc_fail(errno, "mount /dev/null on %s", p);
	}
	close(fd);
	return r;
}

int initc_readonly(const char *p)
{
	char src[64], dst[64];
	int fd = open(p, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT) {
		initc_variant = VAR_SKIPPED;
		return 0;
	}
	if (fd < 0)
		return initc_fail(errno, "open %s", p);
	initc_fd_path(fd, src, sizeof(src));
	int r = mount(src, src, "", MS_BIND | MS_REC, NULL);
	int err = errno;
	close(fd);
	if (r < 0)
		return initc_fail(err, "mount %s on %s", p, p);
	// The root is the container's now: reopening p reaches the new mount.
	fd = open(p, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return initc_fail(errno, "open %s", p);
	r = mount("", initc_fd_path(fd, dst, sizeof(dst)), "", MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
	err = errno;
	close(fd);
	if (r < 0)
		return initc_fail(err, "mount none on %s", p);
	return 0;
}

int initc_chdir(const char *path)
{
	char buf[PATH_MAX];
	if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf))
		return initc_fail(ENAMETOOLONG, "mkdir %s", path);
	// mkdir -p, as os.MkdirAll: each parent in turn, an existing one is fine.
	for (char *p = buf + 1;; p++) {
		if (*p == '/' || *p == '\0') {
			char c = *p;
			*p = '\0';
			if (mkdir(buf, 0755) < 0 && errno != EEXIST)
				return initc_fail(errno, "mkdir %s", buf);
			*p = c;
			if (c == '\0')
				break;
		}
	}
	if (chdir(path) < 0)
		return initc_fail(errno, "chdir %s", path);
	return 0;
}
