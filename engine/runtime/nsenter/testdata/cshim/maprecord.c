// maprecord PATH...: glassbox_map_record of each path (min 8 bytes, max 1 MiB), as one line
// each: "refused", or the length, whether the byte after the last is a NUL, and whether the
// mapping holds the file's bytes.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "readfile.h"

int main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		size_t len;
		char *buf = glassbox_map_record(argv[i], 8, 1 << 20, &len);
		if (buf == NULL) {
			printf("refused\n");
			continue;
		}
		size_t n;
		char *want = glassbox_read_record(argv[i], 8, 1 << 20, &n);
		printf("%zu nul=%d same=%d\n", len, buf[len] == '\0', want != NULL && n == len && memcmp(buf, want, len) == 0);
		free(want);
		glassbox_unmap_record(buf, len);
	}
	return 0;
}
