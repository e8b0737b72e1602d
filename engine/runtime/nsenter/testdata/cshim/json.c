#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include "jsonw.h"

// Reads records (a 4-byte little-endian length, the bytes) and writes each as
// jbuf_string(JSON_MARSHAL) makes it, one a line.
int main(void)
{
	unsigned char n[4];
	while (fread(n, 1, 4, stdin) == 4) {
		size_t len = n[0] | n[1] << 8 | n[2] << 16 | (size_t)n[3] << 24;
		char *p = malloc(len + 1);
		if (p == NULL || fread(p, 1, len, stdin) != len)
			return 2;
		struct jbuf b = { 0 };
		jbuf_string(&b, p, len, JSON_MARSHAL);
		jbuf_put(&b, "\n", 1);
		if (b.oom || fwrite(b.p, 1, b.n, stdout) != b.n)
			return 2;
		free(p);
		free(b.p);
	}
	return 0;
}
