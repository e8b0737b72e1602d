//go:build !cgo

package shim

// trimCHeap: without cgo no C code runs in the shim.
func trimCHeap() {}
