package nsenter

import "errors"

// EncodeConfig returns the bytes Cmd.Start writes to the constructor for c, which joins no
// namespace by descriptor: the run cache (engine/runtime/runcache.go) keeps them, and
// runc.c sends them itself when it starts a container's init without Go.
func EncodeConfig(c Config) ([]byte, error) {
	for _, ns := range c.Join {
		if ns.File != nil {
			return nil, errors.New("encode config: a namespace joined by descriptor cannot be kept")
		}
	}
	return c.encode(nil)
}
