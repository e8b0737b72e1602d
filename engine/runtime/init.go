package runtime

import (
	"fmt"
	"os"
)

// InitMain is the container's init (the InitEntry re-exec). It returns only on failure.
func InitMain(args []string) int {
	fmt.Fprintln(os.Stderr, "glassbox: init: not implemented yet")
	return 125
}
