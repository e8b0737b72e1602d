// Whole small files as the constructor's fast paths read them, bounded: the records glassbox
// writes for them (the exec fast path's ROOT/containers/ID/exec.fast, the run cache's
// entries), with the one set of checks they pass, and a process's procfs files.
#ifndef GLASSBOX_READFILE_H
#define GLASSBOX_READFILE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

// glassbox_read_record returns the whole of the file at path, NUL-terminated, malloc'd, and
// its length; NULL when it cannot be read or is not to be believed. Only a regular file, not
// reached through a symbolic link at its last component, of this process's effective user,
// which no one else can write (mode & 077 == 0), of min to max bytes, read to its recorded
// size, is.
char *glassbox_read_record(const char *path, size_t min, size_t max, size_t *len);

// glassbox_map_record is glassbox_read_record with the file mapped read-only (MAP_PRIVATE)
// rather than read into the heap: its pages come from the page cache as they are read, a
// fault per 16 pages rather than one per page written, and a fork does not copy them. It may
// not change under the mapping: only files replaced whole (atomicfile, runc_replace) are
// mapped. Unmap it with glassbox_unmap_record and the same len.
char *glassbox_map_record(const char *path, size_t min, size_t max, size_t *len);
void glassbox_unmap_record(char *buf, size_t len);

// glassbox_read_small reads a whole file into buf (NUL-terminated), opened with O_RDONLY,
// O_CLOEXEC and flags; its length, or -1 when it cannot be read or does not fit.
ssize_t glassbox_read_small(const char *path, char *buf, size_t size, int flags);

// glassbox_proc_stat reads the state letter (field 3) and the start time (field 22) of
// /proc/PID/stat (proc(5)); -1 when it cannot.
int glassbox_proc_stat(int pid, char *state, uint64_t *start);

#endif
