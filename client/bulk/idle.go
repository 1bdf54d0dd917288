package bulk

import (
	"context"
	"io"
	"time"
)

// watchdog cancels a download that receives nothing for its idle time:
// neither its response headers nor a byte of its body. A deadline on the
// whole download would fail a large file that arrives steadily; this
// fails only a stalled one.
type watchdog struct {
	kick chan struct{}
}

// startWatchdog cancels with ErrStalled after idle without a kick, and
// stops when ctx ends.
func startWatchdog(ctx context.Context, idle time.Duration, cancel context.CancelCauseFunc) *watchdog {
	w := &watchdog{kick: make(chan struct{}, 1)}
	go func() {
		t := time.NewTimer(idle)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-w.kick:
				// Since Go 1.23 Reset discards a pending expiry.
				t.Reset(idle)
			case <-t.C:
				cancel(ErrStalled)
				return
			}
		}
	}()
	return w
}

// alive tells the watchdog that something arrived. It never blocks: one
// pending kick is as good as many.
func (w *watchdog) alive() {
	select {
	case w.kick <- struct{}{}:
	default:
	}
}

// idleReader kicks a watchdog each time bytes arrive.
type idleReader struct {
	r io.Reader
	w *watchdog
}

func (r idleReader) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	if n > 0 {
		r.w.alive()
	}
	return n, err
}
