// The C shim's caller in TestCShim (cshim_test.go): it listens, waits for a line on stdin,
// forks `sh -c SCRIPT` with pipes for its output (its stdin is the harness's), serves,
// prints the code and the exit payload, finishes, and kills what the script left behind.
// fd 3, when given, is the first attacher. An empty script is a start that failed: the
// harness finishes (code 125) without serving.
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include "cshim.h"

int main(int argc, char **argv)
{
	struct cshim s = { 0 };
	char c, path[64];
	struct jbuf exit_json = { 0 };
	int o[2], e[2];
	char before[1024] = { 0 }; // descriptors the harness itself inherited, left alone
	if (argc != 6)
		return 2;
	for (int fd = 3; fd < 1024; fd++)
		before[fd] = fcntl(fd, F_GETFD) >= 0;
	s.dir = argv[1];
	s.log_max = atoll(argv[2]);
	s.queue_max = atoll(argv[3]);
	s.first = atoi(argv[4]) ? 3 : -1;
	if (s.first >= 0 && fcntl(3, F_SETFD, FD_CLOEXEC) < 0)
		return 2;
	if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0 || cshim_listen(&s) < 0) {
		perror("cshim_listen");
		return 1;
	}
	printf("listening\n");
	fflush(stdout);
	do
		if (read(0, &c, 1) != 1)
			return 2;
	while (c != '\n');
	if (argv[5][0] == 0) { // a start that failed: finish follows listen
		cshim_finish(&s, "{\"code\":125}", 12);
		printf("finished\n");
		return 0;
	}
	if (pipe2(o, O_CLOEXEC) < 0 || pipe2(e, O_CLOEXEC) < 0)
		return 2;
	pid_t pid = fork();
	if (pid == 0) {
		// What cshim opened must not reach the container: every descriptor past 2 is
		// close-on-exec (the script's output says which are not).
		for (int fd = 3; fd < 1024; fd++) {
			int fl = fcntl(fd, F_GETFD);
			if (fl >= 0 && !(fl & FD_CLOEXEC) && !before[fd])
				dprintf(o[1], "fd %d is inherited\n", fd);
		}
		dup2(o[1], 1);
		dup2(e[1], 2);
		execl("/bin/sh", "sh", "-c", argv[5], (char *)NULL);
		_exit(127);
	}
	close(o[1]);
	close(e[1]);
	s.init = pid;
	s.out = o[0];
	s.err = e[0];
	int code = cshim_serve(&s);
	cshim_exit_json(&exit_json, code, code == 137);
	if (exit_json.oom)
		return 2;
	printf("served %d %.*s\n", code, (int)exit_json.n, exit_json.p);
	fflush(stdout);
	cshim_finish(&s, exit_json.p, exit_json.n);
	free(exit_json.p);
	close(o[0]);
	close(e[0]);
	snprintf(path, sizeof(path), "/proc/self/task/%d/children", getpid());
	FILE *f = fopen(path, "r");
	int child;
	while (f != NULL && fscanf(f, "%d", &child) == 1) {
		kill(child, SIGKILL);
		waitpid(child, NULL, 0);
	}
	printf("finished\n");
	return 0;
}
