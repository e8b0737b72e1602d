// See readfile.h.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "readfile.h"

// open_record opens path and checks it is a record to believe (readfile.h): its descriptor
// and size, or -1.
static int open_record(const char *path, size_t min, size_t max, size_t *size)
{
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -1;
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 077) != 0 ||
	    st.st_size < 0 || (size_t)st.st_size < min || (size_t)st.st_size > max) {
		close(fd);
		return -1;
	}
	*size = st.st_size;
	return fd;
}

char *glassbox_read_record(const char *path, size_t min, size_t max, size_t *len)
{
	size_t size, got = 0;
	int fd = open_record(path, min, max, &size);
	char *buf = fd < 0 ? NULL : malloc(size + 1);
	if (buf == NULL) {
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	while (got < size) {
		ssize_t n = read(fd, buf + got, size - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += n;
	}
	close(fd);
	if (got != size) {
		free(buf);
		return NULL;
	}
	buf[got] = '\0';
	*len = got;
	return buf;
}

static size_t mapped_size(size_t len)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	return (len + 1 + page - 1) / page * page;
}

char *glassbox_map_record(const char *path, size_t min, size_t max, size_t *len)
{
	size_t size;
	int fd = open_record(path, min, max, &size);
	if (fd < 0)
		return NULL;
	// Anonymous zero pages first, the file over them: the byte after the last is a NUL also
	// when the file ends at a page's end.
	char *buf = mmap(NULL, mapped_size(size), PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (buf != MAP_FAILED && size > 0 && mmap(buf, size, PROT_READ, MAP_PRIVATE | MAP_FIXED, fd, 0) == MAP_FAILED) {
		munmap(buf, mapped_size(size));
		buf = MAP_FAILED;
	}
	close(fd);
	if (buf == MAP_FAILED)
		return NULL;
	*len = size;
	return buf;
}

void glassbox_unmap_record(char *buf, size_t len)
{
	if (buf != NULL)
		munmap(buf, mapped_size(len));
}

ssize_t glassbox_read_small(const char *path, char *buf, size_t size, int flags)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | flags);
	if (fd < 0)
		return -1;
	size_t n = 0;
	for (;;) {
		ssize_t r = read(fd, buf + n, size - 1 - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			close(fd);
			return -1;
		}
		if (r == 0)
			break;
		n += r;
		if (n == size - 1) {
			close(fd);
			return -1;
		}
	}
	close(fd);
	buf[n] = '\0';
	return n;
}

int glassbox_proc_stat(int pid, char *state, uint64_t *start)
{
	char path[64], buf[2048];
	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	if (glassbox_read_small(path, buf, sizeof(buf), 0) < 0)
		return -1;
	// "pid (comm) S ...": comm may hold spaces and parentheses; the state follows the last ')'.
	char *p = strrchr(buf, ')');
	if (p == NULL || p[1] != ' ' || p[2] == '\0')
		return -1;
	*state = p[2];
	p += 2;
	for (int field = 3; field < 22; field++) {
		p = strchr(p, ' ');
		if (p == NULL)
			return -1;
		p++;
	}
	char *end;
	errno = 0;
	unsigned long long v = strtoull(p, &end, 10);
	if (errno != 0 || end == p || (*end != ' ' && *end != '\0'))
		return -1;
	*start = v;
	return 0;
}
