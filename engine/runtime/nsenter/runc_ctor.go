package nsenter

// `glassbox oci run` of a bundle the run cache knows runs in C before Go starts (runc.c):
// glibc calls a constructor with the program's argc and argv. It and nsexec.c's constructor
// run in every process of the binary, in either order: each returns at once unless its own
// case is met (nsexec: _GLASSBOX_NSENTER is set; this: it is not, and the command line is a
// plain `oci run` whose cache entry holds).

/*
extern void glassbox_runc(int argc, char **argv);
void __attribute__((constructor)) glassbox_runc_init(int argc, char **argv, char **envp) {
	glassbox_runc(argc, argv);
}
*/
import "C"
