// glassbox links statically (nsenter.go's LDFLAGS): each process a run starts (the CLI, the
// init) skips the dynamic loader and its page faults, the costliest part of an exec under a
// hypervisor. The C library's name-service functions cannot work in a static binary (they
// load NSS modules of the C library they were built with), so the few that Go's os/user and
// net packages call through cgo are replaced here (-Wl,--wrap): users and groups come from
// /etc/passwd and /etc/group, as Go's own osusergo build reads them, and host names never
// reach getaddrinfo (go.mod's `godebug netdns=go` keeps Go's resolver).
#define _GNU_SOURCE
#include <errno.h>
#include <grp.h>
#include <netdb.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int __wrap_getaddrinfo(const char *node, const char *service, const struct addrinfo *hints, struct addrinfo **res)
{
	*res = NULL;
	return EAI_FAIL;
}

// find_passwd scans /etc/passwd as getpwnam_r and getpwuid_r do: 0 and *result NULL when
// there is no such user, ERANGE when buf is too small (the caller retries with more).
static int find_passwd(const char *name, uid_t uid, struct passwd *pwd, char *buf, size_t len, struct passwd **result)
{
	*result = NULL;
	FILE *f = fopen("/etc/passwd", "re");
	if (f == NULL)
		return errno == ENOENT ? 0 : errno;
	struct passwd *p;
	int rc;
	while ((rc = fgetpwent_r(f, pwd, buf, len, &p)) == 0)
		if (name != NULL ? strcmp(p->pw_name, name) == 0 : p->pw_uid == uid) {
			*result = p;
			break;
		}
	fclose(f);
	return *result != NULL || rc == ENOENT ? 0 : rc;
}

static int find_group(const char *name, gid_t gid, struct group *grp, char *buf, size_t len, struct group **result)
{
	*result = NULL;
	FILE *f = fopen("/etc/group", "re");
	if (f == NULL)
		return errno == ENOENT ? 0 : errno;
	struct group *g;
	int rc;
	while ((rc = fgetgrent_r(f, grp, buf, len, &g)) == 0)
		if (name != NULL ? strcmp(g->gr_name, name) == 0 : g->gr_gid == gid) {
			*result = g;
			break;
		}
	fclose(f);
	return *result != NULL || rc == ENOENT ? 0 : rc;
}

int __wrap_getpwnam_r(const char *name, struct passwd *pwd, char *buf, size_t len, struct passwd **result)
{
	return find_passwd(name, 0, pwd, buf, len, result);
}

int __wrap_getpwuid_r(uid_t uid, struct passwd *pwd, char *buf, size_t len, struct passwd **result)
{
	return find_passwd(NULL, uid, pwd, buf, len, result);
}

int __wrap_getgrnam_r(const char *name, struct group *grp, char *buf, size_t len, struct group **result)
{
	return find_group(name, 0, grp, buf, len, result);
}

int __wrap_getgrgid_r(gid_t gid, struct group *grp, char *buf, size_t len, struct group **result)
{
	return find_group(NULL, gid, grp, buf, len, result);
}

// __wrap_getgrouplist is getgrouplist(3) over /etc/group: group first, then every group
// that lists user, each once; -1 with *ngroups set to the count when groups is too small.
int __wrap_getgrouplist(const char *user, gid_t group, gid_t *groups, int *ngroups)
{
	int n = 0, cap = *ngroups;
	if (n < cap)
		groups[n] = group;
	n++;
	FILE *f = fopen("/etc/group", "re");
	size_t len = 4096;
	char *buf = f != NULL ? malloc(len) : NULL;
	struct group grp, *g;
	for (;;) {
		if (buf == NULL)
			break;
		int rc = fgetgrent_r(f, &grp, buf, len, &g);
		if (rc == ERANGE) {
			char *bigger = realloc(buf, len *= 2);
			if (bigger == NULL)
				break;
			buf = bigger;
			continue;	// fgetgrent_r rewound to the line's start
		}
		if (rc != 0)
			break;
		if (g->gr_gid == group)
			continue;
		for (char **m = g->gr_mem; m != NULL && *m != NULL; m++)
			if (strcmp(*m, user) == 0) {
				int seen = 0;
				for (int i = 1; i < n && i < cap; i++)
					seen |= groups[i] == g->gr_gid;
				if (!seen) {
					if (n < cap)
						groups[n] = g->gr_gid;
					n++;
				}
				break;
			}
	}
	free(buf);
	if (f != NULL)
		fclose(f);
	*ngroups = n;
	return n > cap ? -1 : n;
}
