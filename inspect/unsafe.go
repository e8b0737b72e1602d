package inspect

import "unsafe"

// unsafeString views b as a string without copying; used only for keys compared and dropped
// within one parse call, never kept.
func unsafeString(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }
