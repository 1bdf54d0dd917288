package reference

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pdex-conform/pdex-conform/client/bulk"
)

// TestLoad: 50 clients export at once over loopback. Every export must
// complete; the only refusals allowed are 429 with Retry-After, which the
// clients honour. The heap is sampled throughout and must stay bounded.
// It takes tens of seconds, so it runs only when asked:
//
//	PDEX_LOAD_TEST=1 go test ./reference -run TestLoad -v
func TestLoad(t *testing.T) {
	if os.Getenv("PDEX_LOAD_TEST") == "" {
		t.Skip("set PDEX_LOAD_TEST=1 to run the load test")
	}
	const clients = 50
	h := startServer(t, Options{})
	f := facts(t, testData(t))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	var peak atomic.Uint64
	stop := make(chan struct{})
	var sampler sync.WaitGroup
	sampler.Add(1)
	go func() {
		defer sampler.Done()
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peak.Load() {
				peak.Store(ms.HeapInuse)
			}
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()

	dir := t.TempDir()
	var throttled, resources atomic.Int64
	errs := make(chan error, clients)
	start := time.Now()
	var wg sync.WaitGroup
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			client, group := TestClientID, "group-01"
			params := standard("snapshot")
			if i%2 == 1 {
				client, group = OtherClientID, "group-02"
			}
			if i%5 == 0 {
				params = standard("snapshot", patientParam(f.member))
			}
			c := h.bulk(client)
			var k *bulk.Response
			for attempt := 0; ; attempt++ {
				var err error
				k, err = c.StartExport(ctx, bulk.Kickoff{Group: group, Params: params})
				if err != nil {
					errs <- err
					return
				}
				if k.StatusCode != http.StatusTooManyRequests {
					break
				}
				throttled.Add(1)
				wait, ok := bulk.RetryAfter(k.Header.Get("Retry-After"), time.Now())
				if !ok {
					errs <- fmt.Errorf("client %d: 429 without a usable Retry-After", i)
					return
				}
				select {
				case <-ctx.Done():
					errs <- fmt.Errorf("client %d: still throttled after %d attempts", i, attempt)
					return
				case <-time.After(wait):
				}
			}
			if k.StatusCode != http.StatusAccepted {
				errs <- fmt.Errorf("client %d: kick-off HTTP %d: %.200s", i, k.StatusCode, k.Body)
				return
			}
			final, _, err := c.Poll(ctx, k.Header.Get("Content-Location"), bulk.PollOptions{MaxWait: 2 * time.Second})
			if err != nil || final.StatusCode != http.StatusOK {
				errs <- fmt.Errorf("client %d: poll: %v", i, err)
				return
			}
			m, err := bulk.ParseManifest(final.Body)
			if err != nil {
				errs <- err
				return
			}
			for _, file := range c.DownloadAll(ctx, m.Output, bulk.DownloadOptions{Dir: dir, WithToken: true, Parallel: 2}) {
				if file.Err != nil {
					errs <- fmt.Errorf("client %d: %v", i, file.Err)
					return
				}
				resources.Add(int64(file.Lines))
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	close(stop)
	sampler.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	t.Logf("%d concurrent exports: %s, %d resources downloaded (%.0f/s), %d kick-offs answered 429, peak heap in use %d MiB",
		clients, elapsed.Round(time.Millisecond), resources.Load(), float64(resources.Load())/elapsed.Seconds(), throttled.Load(), peak.Load()>>20)
	if peak.Load() > 512<<20 {
		t.Errorf("peak heap %d MiB: memory is not bounded", peak.Load()>>20)
	}
}
