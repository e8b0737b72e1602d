package main

// glassbox is linked statically (libc and libseccomp from their .a files, which libc6-dev and
// libseccomp-dev ship beside the headers cgo already needs). Every glassbox process (the CLI,
// each shim, each container init, each exec helper) otherwise starts in the dynamic loader:
// mapping libc and libseccomp, relocating, binding symbols, which on this VM's expensive page
// faults and mmaps cost an exec (two glassbox processes) about a fifth of its time (measured:
// `glassbox exec C true` 91 ms dynamic vs 71 ms static, medians of 40 interleaved runs at
// load 7; CPU samples 10.4 vs 8.4 per exec). The linker warns that os/user's and net's cgo
// lookups (getpwuid_r, getaddrinfo) load NSS modules of the same glibc at run time: they are
// glibc's own, on the machine glassbox was built on, and net uses Go's resolver anyway.

// #cgo LDFLAGS: -static
import "C"
