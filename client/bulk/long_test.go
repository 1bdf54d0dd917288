package bulk

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// progressing answers 202 with an X-Progress that changes every step
// requests (the same value in between), and the manifest after total
// requests.
func progressing(step, total int32, n *atomic.Int32) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		i := n.Add(1)
		if i > total {
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprint(w, manifestBody)
			return
		}
		w.Header().Set("X-Progress", fmt.Sprintf("step %d", (i-1)/step))
		w.WriteHeader(http.StatusAccepted)
	}
}

// lines collects progress lines.
type lines struct {
	mu sync.Mutex
	l  []string
}

func (l *lines) add(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.l = append(l.l, fmt.Sprintf(format, args...))
}

func (l *lines) all() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.l, "\n")
}

// TestPollStall runs against real time: the stall bound restarts with every
// new X-Progress, so an export that reports progress may take longer than
// the bound; one whose X-Progress stays the same (or that sends none) ends
// after the bound; without a bound, polling goes on until the context
// ends, telling the console how long it has been going.
func TestPollStall(t *testing.T) {
	tests := []struct {
		name  string
		step  int32 // X-Progress changes every step polls
		total int32 // the manifest comes after this many polls
		stall time.Duration
		// want is "done", "timeout", or "cancelled" (the context ends
		// after cancelAfter).
		want        string
		cancelAfter time.Duration
		minElapsed  time.Duration
		progress    []string // the console heard these
	}{
		{name: "progress reported: longer than the bound, and completes", step: 2, total: 250, stall: time.Second, want: "done",
			minElapsed: 2 * time.Second, progress: []string{"export in progress (", "step 0", "step 124"}},
		{name: "the same X-Progress for longer than the bound", step: 1000, total: 1000, stall: 200 * ms, want: "timeout",
			progress: []string{"step 0"}},
		{name: "no bound: goes on until cancelled, with heartbeats", step: 1000, total: 1000, stall: -1, want: "cancelled",
			cancelAfter: 400 * ms, minElapsed: 350 * ms, progress: []string{"export still in progress after", `the server said "step 0"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var n atomic.Int32
			srv := httptest.NewServer(progressing(tt.step, tt.total, &n))
			defer srv.Close()
			var heard lines
			c := &Client{Base: srv.URL, HTTP: srv.Client(), Progress: heard.add}
			ctx := context.Background()
			if tt.cancelAfter > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithCancel(ctx)
				time.AfterFunc(tt.cancelAfter, cancel)
			}
			start := time.Now()
			final, _, err := c.Poll(ctx, srv.URL+"/status", PollOptions{Stall: tt.stall, MinWait: 10 * ms, MaxWait: 10 * ms, Heartbeat: 100 * ms})
			elapsed := time.Since(start)
			switch tt.want {
			case "done":
				if err != nil || final.StatusCode != http.StatusOK {
					t.Fatalf("Poll = %v, %v; want the manifest", final, err)
				}
				if elapsed <= tt.stall {
					t.Errorf("the export took %s, not longer than the bound %s: the test proves nothing", elapsed, tt.stall)
				}
			case "timeout":
				if !errors.Is(err, ErrPollTimeout) || !strings.Contains(err.Error(), "no new X-Progress for") {
					t.Fatalf("Poll = %v; want ErrPollTimeout naming the time without progress", err)
				}
				if elapsed > tt.stall+time.Second {
					t.Errorf("Poll returned after %s, bound %s", elapsed, tt.stall)
				}
			case "cancelled":
				if !errors.Is(err, context.Canceled) {
					t.Fatalf("Poll = %v; want context.Canceled", err)
				}
			}
			if elapsed < tt.minElapsed {
				t.Errorf("Poll returned after %s, want at least %s", elapsed, tt.minElapsed)
			}
			for _, want := range tt.progress {
				if !strings.Contains(heard.all(), want) {
					t.Errorf("the console did not hear %q:\n%s", want, heard.all())
				}
			}
		})
	}
}

// TestPollDeadlineAndStall: a hard deadline wins over progress.
func TestPollDeadlineAndStall(t *testing.T) {
	var n atomic.Int32
	srv := httptest.NewServer(progressing(1, 1<<30, &n))
	defer srv.Close()
	c := &Client{Base: srv.URL, HTTP: srv.Client()}
	start := time.Now()
	_, _, err := c.Poll(context.Background(), srv.URL+"/status", PollOptions{Deadline: start.Add(300 * ms), Stall: time.Hour, MinWait: 10 * ms, MaxWait: 10 * ms})
	if !errors.Is(err, ErrPollTimeout) {
		t.Fatalf("Poll = %v; want ErrPollTimeout", err)
	}
	if strings.Contains(err.Error(), "X-Progress") {
		t.Errorf("the deadline ended polling, but the error blames progress: %v", err)
	}
	if e := time.Since(start); e > 2*time.Second {
		t.Errorf("Poll returned after %s, deadline 300ms", e)
	}
}

// TestDisk follows the bytes of downloaded files on disk: counted as they
// arrive, taken back when a failed download's partial file is removed or a
// file is released, with the peak and the total kept.
func TestDisk(t *testing.T) {
	body := strings.Repeat(patientLine+"\n", 1000) // 37,000 bytes
	mux := http.NewServeMux()
	mux.HandleFunc("/a", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, body) })
	mux.HandleFunc("/b", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, body+body) })
	mux.HandleFunc("/cut", func(w http.ResponseWriter, r *http.Request) {
		hijack(w, fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s", 3*len(body), body))
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	var disk Disk
	var heard lines
	c := &Client{Base: srv.URL, HTTP: srv.Client(), Progress: heard.add}
	dir := t.TempDir()
	refs := []ManifestRef{{Type: "Patient", URL: srv.URL + "/a"}, {Type: "Patient", URL: srv.URL + "/b"}, {Type: "Patient", URL: srv.URL + "/cut"}}
	files := c.DownloadAll(context.Background(), refs, DownloadOptions{Dir: dir, Disk: &disk})
	a, b, cut := int64(len(body)), int64(2*len(body)), int64(len(body))
	if files[2].Err == nil {
		t.Fatal("the cut download succeeded")
	}
	u := disk.Usage()
	if u.Now != a+b || u.Files != 2 || u.Total != a+b+cut || u.Peak < a+b || u.Peak > a+b+cut {
		t.Errorf("after downloads: %+v; want now %d in 2 files, total %d, peak between %d and %d", u, a+b, a+b+cut, a+b, a+b+cut)
	}
	if onDisk := sizeOf(t, dir); onDisk != u.Now {
		t.Errorf("the folder holds %d bytes, the count says %d", onDisk, u.Now)
	}
	if err := disk.Release(files...); err != nil {
		t.Fatal(err)
	}
	if err := disk.Release(files...); err != nil { // twice is harmless
		t.Fatal(err)
	}
	u2 := disk.Usage()
	if u2.Now != 0 || u2.Files != 0 || u2.Peak != u.Peak || u2.Total != u.Total {
		t.Errorf("after release: %+v; want nothing on disk, peak %d and total %d kept", u2, u.Peak, u.Total)
	}
	if onDisk := sizeOf(t, dir); onDisk != 0 {
		t.Errorf("the folder still holds %d bytes", onDisk)
	}
	for _, want := range []string{"downloaded Patient: 1000 resources, 37.0 kB;", "of 3 files", "3000 resources, 111.0 kB so far", "resources/s"} {
		if !strings.Contains(heard.all(), want) {
			t.Errorf("the console did not hear %q:\n%s", want, heard.all())
		}
	}
}

func sizeOf(t *testing.T, dir string) int64 {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	for _, e := range es {
		fi, err := e.Info()
		if err != nil {
			t.Fatal(err)
		}
		n += fi.Size()
	}
	return n
}

func TestBytes(t *testing.T) {
	for in, want := range map[int64]string{0: "0 B", 999: "999 B", 1500: "1.5 kB", 2_500_000: "2.5 MB", 3_210_000_000: "3.21 GB"} {
		if got := Bytes(in); got != want {
			t.Errorf("Bytes(%d) = %q, want %q", in, got, want)
		}
	}
}
