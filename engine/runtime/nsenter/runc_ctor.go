package nsenter

// `glassbox oci run` of a bundle the run cache knows runs in C before Go starts (runc.c):
// glibc calls a constructor with the program's argc and argv.

/*
extern void glassbox_runc(int argc, char **argv);
void __attribute__((constructor)) glassbox_runc_init(int argc, char **argv, char **envp) {
	glassbox_runc(argc, argv);
}
*/
import "C"
