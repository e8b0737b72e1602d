#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include "jsonw.h"

// Reads nanosecond times (decimal, one a line) and writes each as json_civil_time of its
// seconds, then jbuf_time_at of it, tab-separated, one a line.
int main(void)
{
	long long ns;
	while (scanf("%lld", &ns) == 1) {
		char s[64];
		if (json_civil_time(ns / 1000000000, s, sizeof(s)) <= 0)
			return 2;
		struct jbuf b = { 0 };
		jbuf_time_at(&b, ns);
		if (b.oom)
			return 2;
		printf("%s\t%.*s\n", s, (int)b.n, b.p);
		free(b.p);
	}
	return 0;
}
