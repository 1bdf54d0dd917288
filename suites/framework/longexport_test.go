package framework

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pdex-conform/pdex-conform/client/bulk"
	"github.com/pdex-conform/pdex-conform/config"
	"github.com/pdex-conform/pdex-conform/edition"
)

// slowExport is a Bulk Data server whose export takes `takes` and, while
// it runs, answers the status request 202 with Retry-After 0 and an
// X-Progress that moves on with time when moving is set (or stays the
// same).
func slowExport(takes time.Duration, moving bool) *httptest.Server {
	var started atomic.Int64
	mux := http.NewServeMux()
	mux.HandleFunc("POST /Group/g/{op}", func(w http.ResponseWriter, r *http.Request) {
		started.Store(time.Now().UnixNano())
		w.Header().Set("Content-Location", "http://"+r.Host+"/status")
		w.WriteHeader(http.StatusAccepted)
	})
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, r *http.Request) {
		elapsed := time.Since(time.Unix(0, started.Load()))
		if elapsed < takes {
			progress := "working"
			if moving {
				progress = fmt.Sprintf("%d%% done", 100*elapsed/takes)
			}
			w.Header().Set("X-Progress", progress)
			w.Header().Set("Retry-After", "0")
			w.WriteHeader(http.StatusAccepted)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"transactionTime":"2026-03-01T12:00:00Z","request":"x","requiresAccessToken":false,"output":[{"type":"Patient","url":"http://%s/f"}],"error":[]}`, r.Host)
	})
	mux.HandleFunc("GET /f", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/fhir+ndjson")
		fmt.Fprint(w, `{"resourceType":"Patient","id":"p1"}`+"\n"+`{"resourceType":"Patient","id":"p2"}`+"\n")
	})
	return httptest.NewServer(mux)
}

// TestLongExport: timeouts.export bounds the time an export goes without
// progress, not its length: an export that keeps reporting progress runs
// past it and completes; one whose X-Progress stays the same ends after it;
// "unlimited" waits however long it takes. The console hears how far it has
// got and how long it took.
func TestLongExport(t *testing.T) {
	ed, err := edition.Lookup(edition.Default)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		moving  bool
		timeout config.Duration
		ok      bool
		heard   []string
	}{
		{"progress reported: longer than the timeout", true, config.Duration{Duration: time.Second}, true,
			[]string{"export in progress (", "% done", "export complete: 1 files, 2 resources in", "downloaded Patient: 2 resources"}},
		{"no progress reported", false, config.Duration{Duration: 500 * time.Millisecond}, false,
			[]string{"export in progress (0s): working"}},
		{"unlimited", false, config.Duration{Unlimited: true}, true,
			[]string{"export in progress (0s): working", "export complete: 1 files, 2 resources in"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := slowExport(2*time.Second, tt.moving)
			defer srv.Close()
			var mu sync.Mutex
			var heard []string
			e := &Env{
				Config:  &config.Config{Target: srv.URL, Group: "g", Timeouts: config.Timeouts{Request: config.Duration{Duration: 5 * time.Second}, Export: tt.timeout}},
				Edition: ed, HTTP: srv.Client(), WorkDir: t.TempDir(), Disk: &bulk.Disk{},
				Progress: func(format string, args ...any) {
					mu.Lock()
					defer mu.Unlock()
					heard = append(heard, fmt.Sprintf(format, args...))
				},
			}
			start := time.Now()
			x, err := e.RunExport(context.Background(), ExportRequest{})
			elapsed := time.Since(start)
			if tt.ok {
				if err != nil {
					t.Fatalf("RunExport: %v", err)
				}
				if len(x.Resources) != 2 || elapsed < 2*time.Second {
					t.Errorf("%d resources after %s", len(x.Resources), elapsed)
				}
			} else {
				if !errors.Is(err, bulk.ErrPollTimeout) || !strings.Contains(err.Error(), "no new X-Progress") {
					t.Fatalf("RunExport = %v; want a timeout for want of progress", err)
				}
				if elapsed > 1800*time.Millisecond {
					t.Errorf("the stuck export ended after %s, timeout %s", elapsed, tt.timeout)
				}
			}
			all := strings.Join(heard, "\n")
			for _, want := range tt.heard {
				if !strings.Contains(all, want) {
					t.Errorf("the console did not hear %q:\n%s", want, all)
				}
			}
			if u := e.Disk.Usage(); tt.ok && (u.Total == 0 || u.Now != u.Total) {
				t.Errorf("disk: %+v; want the file counted", u)
			}
		})
	}
}
