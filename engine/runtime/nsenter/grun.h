// `glassbox run` without Go (grun.c: the command line and the run template; grun_create.c:
// the container made as the engine's Create makes it; grun_shim.c: the shim and the caller's
// end). engine/runtemplate.go writes the template and documents it.
#ifndef GLASSBOX_GRUN_H
#define GLASSBOX_GRUN_H

#include <limits.h>
#include <stdint.h>
#include <sys/types.h>

#include "jsonw.h"
#include "runc.h"

// Record types: runtemplate.go's g* constants, the same numbers.
enum {
	G_VERSION = 1,
	G_SIGNATURE = 2,
	G_STAT = 3,
	G_FILE = 4,
	G_UID = 5,
	G_FLAGS = 6,
	G_IMAGE = 7,
	G_RECORD = 8,
	G_OUTFILE = 9,
	G_LOWER = 10,
	G_MOUNTPOINT = 11,
	G_RUNTIME = 12,
};

#define GRUN_VERSION 1
#define GRUN_NAME_MARK '\x03'
enum { GF_AUTOREMOVE = 1, GF_DETACH = 2, GF_NAMED = 4 };
enum { MP_DIR = 0, MP_FILE = 1, MP_TMPFS = 2 };

#define GRUN_MAX_FILES 8
#define GRUN_MAX_LOWERS 128
#define GRUN_MAX_MOUNTPOINTS 64

struct grun_outfile {
	uint32_t mode;
	const char *name, *data;	// data: marked, len bytes
	size_t len;
};

struct grun_mountpoint {
	uint32_t kind;
	const char *rel;		// marked
};

// A run: the template's records (pointing into its bytes) and what the run made.
struct grun {
	const char *root;		// absolute, clean
	const char *name;		// --name's value, or NULL
	uint32_t flags;
	const char *image_id, *lease_dir, *image_lock;
	const char *rec_image, *rec_image_id, *rec_command, *rec_lowers, *rec_options;
	struct grun_outfile files[GRUN_MAX_FILES];
	int nfiles;
	const char *lowers[GRUN_MAX_LOWERS];
	int nlowers;
	struct grun_mountpoint mps[GRUN_MAX_MOUNTPOINTS];
	int nmps;
	const char *runtime_tmpl;
	int64_t origin;			// CLOCK_REALTIME ns when the constructor began

	// The run's own.
	char id[65], short_id[13], cname[129];
	char dir[PATH_MAX];		// ROOT/containers/ID
	int64_t created;
	uint64_t self_start;		// the shim's start time (/proc/PID/stat's 22nd field)
	int leased, named, made_dir, mounted;
	int start_lock;			// start.lock's descriptor, held until the start is told (-1)
};

// grun_create.c
int grun_new_id(struct grun *g);
int grun_path(struct grun *g, char *out, const char *name);	// PATH_MAX: dir/name, or -1		// the ID, its short form and the directory
int grun_create(struct grun *g);		// 0, or -1 having undone everything
void grun_undo(struct grun *g);			// everything grun_create made
void grun_unlock_start(struct grun *g);
int grun_write_record(struct grun *g, const char *status, pid_t pid, pid_t shim, uint64_t shim_start,
		      int64_t started, int64_t finished, int code, int oom, const char *cgroups_json);
int grun_expand(struct grun *g, const char *s, size_t len, struct jbuf *out);
void grun_event(struct grun *g, const char *action, int code);
int grun_unmount(struct grun *g);
// grun_rootfs.c: the overlay, config.json and the /etc files, the spec's mount points.
int grun_mount_overlay(struct grun *g);
// grun_write_files writes the container's files: config.json alone (config), or all but it
// (the /etc files the init mounts), which grun_create does.
int grun_write_files(struct grun *g, int config);
int grun_mount_points(struct grun *g);
int grun_release_lease(struct grun *g);
void grun_remove_tree(const char *dir);
void grun_prune_tombstones(struct grun *g);

// grun_shim.c: the shim and the caller's end; returns only when Go is to run it all (or
// runs the command line again, grun_argv, for Go).
void grun_run(struct grun *g, struct runc_entry *rt);
extern char **grun_argv;

// glassbox_grun runs `glassbox run` from its template when it can; it returns when Go must.
void glassbox_grun(int argc, char **argv);

#endif
