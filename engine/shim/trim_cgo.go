//go:build cgo

package shim

// #include <malloc.h>
import "C"

// trimCHeap gives back to the kernel what C code in the shim freed: the runtime compiles
// the container's seccomp filter with libseccomp in this process, and glibc keeps freed
// heap and arena memory for reuse (a megabyte here) unless told (malloc_trim(3)).
func trimCHeap() { C.malloc_trim(0) }
