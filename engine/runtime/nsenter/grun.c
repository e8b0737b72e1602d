// `glassbox run` without Go, part one: a constructor that recognizes `glassbox [--root R] run
// ARGS` and finds the run template engine/runtemplate.go wrote after a Go run of the same
// command line (the --name flag's value aside), and the runtime's whole template for its
// config. If both keys hold (this binary, the image's references and record, its layers and
// the host's resolv.conf unchanged, the same boot, cgroups and uid), grun_create.c and
// grun_shim.c do the run and the process exits without Go ever starting. Anything else, and
// this returns having done nothing, so that Go's `run` runs as it always does.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "jsonw.h"
#include "grun.h"
#include "kernel_compat.h"
#include "readfile.h"

#define MAX_TEMPLATE (8 * 1024 * 1024)
#define MAX_SIGNATURE 65536

static uint64_t fnv1a64(const char *s, size_t n)
{
	uint64_t h = 14695981039346656037ULL;
	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char)s[i];
		h *= 1099511628211ULL;
	}
	return h;
}

// clean_abs: an absolute path Go's filepath.Abs leaves as it is (no empty, "." or ".."
// element, no trailing slash).
static int clean_abs(const char *p)
{
	size_t n = strlen(p);
	if (n == 0 || n >= PATH_MAX || p[0] != '/' || (n > 1 && p[n - 1] == '/'))
		return 0;
	return strstr(p, "//") == NULL && strstr(p, "/./") == NULL && strstr(p, "/../") == NULL
	    && !(n >= 2 && strcmp(p + n - 2, "/.") == 0) && !(n >= 3 && strcmp(p + n - 3, "/..") == 0);
}

// signature is RunSignature.bytes: root, the arguments but the name flag at pos (and its
// value), NUL after each, "@pos".
static size_t signature(char *out, size_t cap, const char *root, int n, char **args, int pos)
{
	size_t len = 0;
	int ok = 1;
#define ADD(s, l) do { if (len + (l) > cap) ok = 0; else { memcpy(out + len, s, l); len += (l); } } while (0)
	ADD(root, strlen(root) + 1);
	for (int i = 0; i < n; i++) {
		if (i == pos) {
			if (strcmp(args[i], "--name") == 0)
				i++;
			continue;
		}
		ADD(args[i], strlen(args[i]) + 1);
	}
	char tail[16];
	int t = snprintf(tail, sizeof(tail), "@%d", pos);
	ADD(tail, (size_t)t);
#undef ADD
	return ok ? len : 0;
}

// load checks the template's key and collects the rest; -1 if anything does not hold.
static int load(struct grun *g, const char *buf, size_t len, const char *sig, size_t siglen)
{
	const char *p = buf, *end = buf + len;
	int version = 0, keys = 0;
	while (p < end) {
		uint32_t hdr[2], u;
		if (end - p < 8)
			return -1;
		memcpy(hdr, p, 8);
		p += 8;
		uint32_t type = hdr[0], n = hdr[1];
		if ((size_t)(end - p) < n || (type != G_VERSION && !version))
			return -1;
		const char *s[5];
		switch (type) {
		case G_VERSION:
			if (n != 4 || (memcpy(&u, p, 4), u != GRUN_VERSION))
				return -1;
			version = 1;
			break;
		case G_SIGNATURE:
			if (n != siglen || memcmp(p, sig, n) != 0)
				return -1;	// another command line with the same hash
			keys |= 1;
			break;
		case G_STAT:
			if (runc_check_stat(p, n) < 0)
				return -1;
			keys |= 2;
			break;
		case G_FILE:
			if (runc_check_file(p, n) < 0)
				return -1;
			keys |= 4;
			break;
		case G_UID:
			if (n != 4 || (memcpy(&u, p, 4), u != getuid() || u != geteuid()))
				return -1;
			keys |= 8;
			break;
		case G_FLAGS:
			if (n != 4)
				return -1;
			memcpy(&g->flags, p, 4);
			keys |= 16;
			break;
		case G_IMAGE:
			if (runc_strings_of(p, n, s, 3) < 0)
				return -1;
			g->image_id = s[0], g->lease_dir = s[1], g->image_lock = s[2];
			break;
		case G_RECORD:
			if (runc_strings_of(p, n, s, 5) < 0)
				return -1;
			g->rec_image = s[0], g->rec_image_id = s[1], g->rec_command = s[2];
			g->rec_lowers = s[3], g->rec_options = s[4];
			break;
		case G_OUTFILE:{
				const char *nul = n > 4 ? memchr(p + 4, '\0', n - 4) : NULL;
				if (nul == NULL || g->nfiles == GRUN_MAX_FILES)
					return -1;
				struct grun_outfile *f = &g->files[g->nfiles++];
				memcpy(&f->mode, p, 4);
				f->name = p + 4;
				f->data = nul + 1;
				f->len = p + n - f->data;
				if (strchr(f->name, '/') != NULL || f->name[0] == '.' || f->name[0] == '\0')
					return -1;
				break;
			}
		case G_LOWER:
			if (g->nlowers == GRUN_MAX_LOWERS || runc_strings_of(p, n, s, 1) < 0 || s[0][0] != '/')
				return -1;
			g->lowers[g->nlowers++] = s[0];
			break;
		case G_MOUNTPOINT:
			if (g->nmps == GRUN_MAX_MOUNTPOINTS || n < 5 || runc_strings_of(p + 4, n - 4, s, 1) < 0)
				return -1;
			memcpy(&g->mps[g->nmps].kind, p, 4);
			g->mps[g->nmps++].rel = s[0];
			break;
		case G_RUNTIME:
			if (runc_strings_of(p, n, s, 1) < 0 || strncmp(s[0], "tmpl-", 5) != 0 || strchr(s[0], '/') != NULL)
				return -1;
			g->runtime_tmpl = s[0];
			break;
		default:
			return -1;	// a newer glassbox wrote it: Go knows
		}
		p += n;
	}
	if (keys != 31 || g->image_id == NULL || g->rec_image == NULL || g->nfiles == 0 || g->nlowers == 0
	    || g->runtime_tmpl == NULL)
		return -1;
	return ((g->flags & GF_NAMED) != 0) == (g->name != NULL) ? 0 : -1;
}

// find reads the template of one candidate signature; NULL when there is none.
static char *find(const char *root, const char *sig, size_t siglen, size_t *len)
{
	char path[PATH_MAX];
	if ((size_t)snprintf(path, sizeof(path), "%s/.runcache/grun-%016llx", root,
			     (unsigned long long)fnv1a64(sig, siglen)) >= sizeof(path))
		return NULL;
	return glassbox_map_record(path, 8, MAX_TEMPLATE, len);
}

// run loads the runtime's template for a new ID and does the run; it returns when Go must.
static void run(struct grun *g)
{
	char path[PATH_MAX];
	static char rtroot[PATH_MAX];
	size_t len;
	if ((size_t)snprintf(path, sizeof(path), "%s/runtime/.runcache/%s", g->root, g->runtime_tmpl) >= sizeof(path)
	    || (size_t)snprintf(rtroot, sizeof(rtroot), "%s/runtime", g->root) >= sizeof(rtroot) || grun_new_id(g) < 0)
		return;
	char *buf = glassbox_map_record(path, 8, 32 * 1024 * 1024, &len);
	// The entry (100 KiB of fixed arrays, mostly unused) in pages of their own, zero until
	// written: calloc's memset would write every one of them in the CLI, a page fault each.
	struct runc_entry *e = buf ? mmap(NULL, sizeof(*e), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) : MAP_FAILED;
	if (e != MAP_FAILED) {
		e->root = rtroot;
		e->id = g->id;
		e->bundle = g->dir;
		e->origin = g->origin;
		if (runc_load_template(e, buf, len) == 0)
			grun_run(g, e);	// returns only when the shim undid everything
		runc_free_entry(e);
		munmap(e, sizeof(*e));
	}
	glassbox_unmap_record(buf, len);
}

char **grun_argv;

void glassbox_grun(int argc, char **argv)
{
	// A C run's caller running its command line again for Go (grun_run): out of the
	// environment in place, where Go reads it too.
	if (getenv("_GLASSBOX_GRUN_GO") != NULL) {
		unsetenv("_GLASSBOX_GRUN_GO");
		return;
	}
	if (argc < 3 || argv == NULL)
		return;
	grun_argv = argv;
	static const char *go_env[] = { "GLASSBOX_RUNTIME", "GLASSBOX_FAULT" };
	for (size_t i = 0; i < sizeof(go_env) / sizeof(go_env[0]); i++)
		if (getenv(go_env[i]) != NULL)
			return;
	const char *mode = getenv("GLASSBOX_RUN"), *init = getenv("GLASSBOX_INIT");
	if ((mode != NULL && strcmp(mode, "go") == 0) || (init != NULL && strcmp(init, "go") == 0))
		return;
	if (glassbox_is_base(argv[0], "glassbox-oci") || glassbox_is_base(argv[0], "runc"))
		return;
	const char *root = getenv("GLASSBOX_ROOT");
	if (root == NULL || *root == '\0')
		root = "/var/lib/glassbox";
	int i = 1;
	for (; i < argc && strcmp(argv[i], "run") != 0; i++) {
		if (strcmp(argv[i], "--root") == 0 && i + 1 < argc)
			root = argv[++i];
		else if (strncmp(argv[i], "--root=", 7) == 0)
			root = argv[i] + 7;
		else
			return;
	}
	if (i >= argc - 1 || !clean_abs(root))
		return;
	// The shim is this process's child: with SIGCHLD ignored its end would go unseen.
	struct sigaction chld;
	if (sigaction(SIGCHLD, NULL, &chld) < 0 || chld.sa_handler == SIG_IGN || (chld.sa_flags & SA_NOCLDWAIT))
		return;
	int64_t origin = runc_now();
	char **args = argv + i + 1;
	int n = argc - i - 1;
	static char sig[MAX_SIGNATURE];
	// The command line as it is, then with each --name flag candidate taken out: the template
	// Go wrote says which argument was the flag.
	for (int pos = -1; pos < n; pos++) {
		const char *name = NULL;
		if (pos >= 0) {
			if (strcmp(args[pos], "--name") == 0 && pos + 1 < n)
				name = args[pos + 1];
			else if (strncmp(args[pos], "--name=", 7) == 0)
				name = args[pos] + 7;
			else
				continue;
		}
		size_t siglen = signature(sig, sizeof(sig), root, n, args, pos), len;
		if (siglen == 0)
			return;
		char *buf = find(root, sig, siglen, &len);
		if (buf == NULL)
			continue;
		struct grun *g = calloc(1, sizeof(*g));
		// The shim writes its title over the arguments (grun_shim.c): the root and name are
		// copied.
		static char rootcopy[PATH_MAX], namecopy[256];
		snprintf(rootcopy, sizeof(rootcopy), "%s", root);
		if (name != NULL && (size_t)snprintf(namecopy, sizeof(namecopy), "%s", name) >= sizeof(namecopy)) {
			glassbox_unmap_record(buf, len);
			free(g);
			return;	// too long for a name: Go says so
		}
		if (g != NULL) {
			g->root = rootcopy;
			g->name = name != NULL ? namecopy : NULL;
			g->origin = origin;
			if (load(g, buf, len, sig, siglen) == 0)
				run(g);
			free(g);
		}
		glassbox_unmap_record(buf, len);
		return;
	}
}
