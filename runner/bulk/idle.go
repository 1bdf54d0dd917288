package bulk

import (
	"io"
	"sync/atomic"
)

// idleReader tells a watchdog each time bytes arrive.
type idleReader struct {
	r       io.Reader
	kick    chan struct{}
	stalled atomic.Bool
}

func (r *idleReader) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	if n > 0 {
		select {
		case r.kick <- struct{}{}:
		default:
		}
	}
	return n, err
}
