// Reading the files glassbox writes for the constructor's fast paths (the exec fast path's
// ROOT/containers/ID/exec.fast, the run cache's entries): the one set of checks they pass.
#ifndef GLASSBOX_RECORD_FILE_H
#define GLASSBOX_RECORD_FILE_H

#include <stddef.h>

// glassbox_read_record returns the whole of the file at path, NUL-terminated, malloc'd, and
// its length; NULL when it cannot be read or is not to be believed. Only a regular file, not
// reached through a symbolic link at its last component, of this process's effective user,
// which no one else can write (mode & 077 == 0), of min to max bytes, read to its recorded
// size, is.
char *glassbox_read_record(const char *path, size_t min, size_t max, size_t *len);

#endif
