package bulk

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pdex-conform/pdex-conform/evidence"
)

const patientLine = `{"resourceType":"Patient","id":"p1"}`

// hijack writes raw bytes on the connection and closes it: a response cut
// short whatever the server library would do.
func hijack(w http.ResponseWriter, raw string) {
	conn, buf, err := w.(http.Hijacker).Hijack()
	if err != nil {
		panic(err)
	}
	buf.WriteString(raw)
	buf.Flush()
	conn.Close()
}

// endless writes lines of a resource until the client goes away or limit
// bytes are written, counting what it wrote: a multi-gigabyte file made on
// the fly.
func endless(line string, limit int64, written *atomic.Int64) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/fhir+ndjson")
		chunk := []byte(strings.Repeat(line, (64<<10)/len(line)+1))
		for n := int64(0); n < limit; n += int64(len(chunk)) {
			if _, err := w.Write(chunk); err != nil {
				return
			}
			written.Add(int64(len(chunk)))
		}
	}
}

func TestDownload(t *testing.T) {
	var written atomic.Int64
	mux := http.NewServeMux()
	ndjson := func(ct, body string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", ct)
			io.WriteString(w, body)
		}
	}
	okBody := patientLine + "\n" + patientLine + "\r\n\n   \n" + patientLine + "\n" + patientLine // last line without newline
	mux.HandleFunc("/ok", ndjson("application/fhir+ndjson", okBody))
	mux.HandleFunc("/html", ndjson("text/html", "<html><body>Sign in</body></html>"))
	mux.HandleFunc("/latin1", ndjson("application/fhir+ndjson", `{"resourceType":"Patient","id":"p1","name":[{"family":"Mu`+"\xf1"+`oz"}]}`+"\n"))
	mux.HandleFunc("/truncated", func(w http.ResponseWriter, r *http.Request) {
		hijack(w, "HTTP/1.1 200 OK\r\nContent-Type: application/fhir+ndjson\r\nContent-Length: 1000\r\n\r\n"+patientLine+"\n"+`{"resourceType":"Pat`)
	})
	mux.HandleFunc("/truncated-chunked", func(w http.ResponseWriter, r *http.Request) {
		hijack(w, "HTTP/1.1 200 OK\r\nContent-Type: application/fhir+ndjson\r\nTransfer-Encoding: chunked\r\n\r\n"+
			fmt.Sprintf("%x\r\n%s\n\r\n", len(patientLine)+1, patientLine)+"400\r\n"+`{"resourceType":"Pat`)
	})
	mux.HandleFunc("/long-line", func(w http.ResponseWriter, r *http.Request) {
		// 64 MiB+ without a newline, made on the fly.
		endless("x", 80<<20, &written)(w, r)
	})
	mux.HandleFunc("/huge", endless(patientLine+"\n", 4<<30, &written))
	mux.HandleFunc("/huge-announced", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", fmt.Sprint(int64(5)<<30))
		endless(patientLine+"\n", 5<<30, &written)(w, r)
	})
	mux.HandleFunc("/stall-mid-body", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/fhir+ndjson")
		io.WriteString(w, patientLine+"\n")
		w.(http.Flusher).Flush()
		stall(r)
	})
	mux.HandleFunc("/stall-headers", func(w http.ResponseWriter, r *http.Request) { stall(r) })
	mux.HandleFunc("/slow-but-steady", func(w http.ResponseWriter, r *http.Request) {
		// Slower in all than Idle, never idle that long.
		w.Header().Set("Content-Type", "application/fhir+ndjson")
		for range 6 {
			io.WriteString(w, patientLine+"\n")
			w.(http.Flusher).Flush()
			time.Sleep(100 * ms)
		}
	})
	mux.HandleFunc("/gone", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/fhir+json")
		w.WriteHeader(http.StatusNotFound)
		io.WriteString(w, oo("not-found"))
	})
	mux.HandleFunc("/loop", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/loop", http.StatusFound) })
	srv := httptest.NewServer(mux)
	defer srv.Close()

	tests := []struct {
		path      string
		opts      DownloadOptions
		is        error  // errors.Is the download's error; nil with mention "" = success
		mention   string // the error mentions this
		lines     int
		ct        string
		status    int
		maxBytes  int64         // f.Bytes at most this (0: not checked)
		maxServed int64         // the server wrote at most this (0: not checked)
		within    time.Duration // the download ends within this
		// heap bounds the growth of the heap during the download (0: not
		// checked): the file is streamed, not held.
		heap uint64
	}{
		{path: "/ok", lines: 4, ct: "application/fhir+ndjson", status: 200},
		{path: "/html", lines: 1, ct: "text/html", status: 200}, // recorded; the specs judge the type
		{path: "/latin1", lines: 1, status: 200},                // kept as is; the index reports it
		{path: "/truncated", is: ErrTruncated, mention: "ended early", status: 200},
		{path: "/truncated-chunked", is: ErrTruncated, mention: "ended early", status: 200},
		{path: "/long-line", opts: DownloadOptions{MaxLine: 1 << 20}, is: ErrLineTooLong, mention: "line 1", status: 200,
			maxBytes: 1 << 20, maxServed: 32 << 20},
		{path: "/long-line", is: ErrLineTooLong, mention: "67108864 bytes", status: 200, // the default limit, 64 MiB
			maxBytes: 64 << 20, maxServed: 72 << 20, heap: 16 << 20},
		{path: "/huge", opts: DownloadOptions{MaxBytes: 64 << 20}, is: ErrTooLarge, mention: "67108864 bytes", status: 200,
			maxBytes: 64 << 20, maxServed: 96 << 20, heap: 16 << 20},
		{path: "/huge-announced", opts: DownloadOptions{MaxBytes: 8 << 20}, is: ErrTooLarge, mention: "Content-Length 5368709120", status: 200,
			maxServed: 40 << 20},
		{path: "/stall-mid-body", opts: DownloadOptions{Idle: 300 * ms}, is: ErrStalled, mention: "nothing received for 300ms", status: 200, within: 5 * time.Second},
		{path: "/stall-headers", opts: DownloadOptions{Idle: 300 * ms}, is: ErrStalled, mention: "nothing received", within: 5 * time.Second},
		{path: "/slow-but-steady", opts: DownloadOptions{Idle: 400 * ms}, lines: 6, status: 200},
		{path: "/gone", mention: "HTTP 404", status: 404},
		{path: "/loop", mention: "redirects"},
	}
	for _, tt := range tests {
		t.Run(strings.TrimPrefix(tt.path, "/"), func(t *testing.T) {
			written.Store(0)
			var exs []evidence.Exchange
			c := &Client{Base: srv.URL, HTTP: srv.Client(), Record: func(ex evidence.Exchange) { exs = append(exs, ex) }}
			tt.opts.Dir = t.TempDir()
			var peak heapPeak
			if tt.heap > 0 {
				peak.start()
			}
			start := time.Now()
			f := c.Download(context.Background(), ManifestRef{Type: "Patient", URL: srv.URL + tt.path}, tt.opts)
			elapsed := time.Since(start)
			if tt.heap > 0 {
				if grew := peak.stop(); grew > tt.heap {
					t.Errorf("the heap grew by %d bytes during the download, want at most %d", grew, tt.heap)
				}
			}
			if f.Status != tt.status {
				t.Errorf("Status %d, want %d", f.Status, tt.status)
			}
			if len(exs) != 1 || exs[0].URL != srv.URL+tt.path {
				t.Errorf("exchanges recorded: %+v, want the one download", exs)
			}
			if tt.within > 0 && elapsed > tt.within {
				t.Errorf("the download took %s, want at most %s", elapsed, tt.within)
			}
			if tt.maxServed > 0 {
				// The server may be a little ahead of the client (socket
				// buffers) but never far: the client stopped reading.
				time.Sleep(50 * ms)
				if w := written.Load(); w > tt.maxServed {
					t.Errorf("the server wrote %d bytes, want at most %d: the download did not stop at its limit", w, tt.maxServed)
				}
			}
			if tt.mention == "" {
				if f.Err != nil {
					t.Fatalf("Download: %v", f.Err)
				}
				if f.Lines != tt.lines {
					t.Errorf("Lines %d, want %d", f.Lines, tt.lines)
				}
				if tt.ct != "" && f.ContentType != tt.ct {
					t.Errorf("ContentType %q, want %q", f.ContentType, tt.ct)
				}
				b, err := os.ReadFile(f.Path)
				if err != nil {
					t.Fatal(err)
				}
				if int64(len(b)) != f.Bytes {
					t.Errorf("the file holds %d bytes, Bytes says %d", len(b), f.Bytes)
				}
				if exs[0].BodyBytes != f.Bytes || exs[0].ResponseBody == "" {
					t.Errorf("evidence: %d bytes and preview %q", exs[0].BodyBytes, exs[0].ResponseBody)
				}
				return
			}
			if f.Err == nil {
				t.Fatalf("Download succeeded (%d lines, %d bytes)", f.Lines, f.Bytes)
			}
			if tt.is != nil && !errors.Is(f.Err, tt.is) {
				t.Errorf("error %v is not %v", f.Err, tt.is)
			}
			if !strings.Contains(f.Err.Error(), tt.mention) {
				t.Errorf("error %q does not mention %q", f.Err, tt.mention)
			}
			if tt.maxBytes > 0 && f.Bytes > tt.maxBytes {
				t.Errorf("read %d bytes, want at most %d", f.Bytes, tt.maxBytes)
			}
			if f.Path != "" {
				t.Errorf("a failed download left %s", f.Path)
			}
			if left, _ := os.ReadDir(tt.opts.Dir); len(left) > 0 {
				t.Errorf("a failed download left %d files in its directory", len(left))
			}
			if exs[0].Error == "" {
				t.Error("the failure is not in the evidence")
			}
		})
	}
}

func TestDownloadRefusesBadURLs(t *testing.T) {
	tests := []struct{ url, mention string }{
		{"", "no url"},
		{"/files/1.ndjson", "not an absolute http(s) URL"},
		{"ftp://example.org/1.ndjson", "not an absolute http(s) URL"},
		{"http://%zz", "not an absolute http(s) URL"},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			c := &Client{HTTP: http.DefaultClient}
			f := c.Download(context.Background(), ManifestRef{Type: "Patient", URL: tt.url}, DownloadOptions{Dir: t.TempDir()})
			if f.Err == nil || !strings.Contains(f.Err.Error(), tt.mention) {
				t.Errorf("Download(%q) error %v, want one mentioning %q", tt.url, f.Err, tt.mention)
			}
		})
	}
}

func TestDownloadRenewsTokenOnce(t *testing.T) {
	tests := []struct {
		name      string
		valid     []string
		withToken bool
		wantErr   bool
		seen      string
	}{
		{"expired token renewed", []string{"tok-2"}, true, false, `["tok-1" "tok-2"]`},
		{"refused twice", nil, true, true, `["tok-1" "tok-2"]`},
		{"no token asked: no renewal", []string{"tok-2"}, false, true, `[""]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := &tokenServer{valid: map[string]bool{}}
			for _, v := range tt.valid {
				ts.valid[v] = true
			}
			srv := httptest.NewServer(ts)
			defer srv.Close()
			c := &Client{HTTP: srv.Client(), Auth: &fakeAuth{}}
			f := c.Download(context.Background(), ManifestRef{Type: "Patient", URL: srv.URL + "/f"}, DownloadOptions{Dir: t.TempDir(), WithToken: tt.withToken})
			if (f.Err != nil) != tt.wantErr {
				t.Errorf("error %v, want error %v", f.Err, tt.wantErr)
			}
			if tt.wantErr && !strings.Contains(f.Err.Error(), "HTTP 401") {
				t.Errorf("error %q does not say HTTP 401", f.Err)
			}
			if got := fmt.Sprintf("%q", ts.seen); got != tt.seen {
				t.Errorf("tokens sent %s, want %s", got, tt.seen)
			}
		})
	}
}

// TestDownloadAllParallel checks that DownloadAll downloads several files at
// once but never more than Parallel, keeps the order of refs, calls OnFile
// for each file, and fails the files not started once ctx ends.
func TestDownloadAllParallel(t *testing.T) {
	var inFlight, peak atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := inFlight.Add(1)
		defer inFlight.Add(-1)
		for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
		}
		time.Sleep(40 * ms)
		w.Header().Set("Content-Type", "application/fhir+ndjson")
		id := strings.TrimPrefix(r.URL.Path, "/")
		fmt.Fprintf(w, `{"resourceType":"Patient","id":%q}`+"\n", id)
	}))
	defer srv.Close()
	// The test server's client keeps few idle connections; parallel
	// downloads need their own.
	hc := &http.Client{Transport: &http.Transport{MaxConnsPerHost: 0, MaxIdleConnsPerHost: 16}}
	var refs []ManifestRef
	for i := range 12 {
		refs = append(refs, ManifestRef{Type: "Patient", URL: fmt.Sprintf("%s/p%d", srv.URL, i)})
	}
	for _, par := range []int{1, 3, 5} {
		t.Run(fmt.Sprint("parallel ", par), func(t *testing.T) {
			peak.Store(0)
			var mu sync.Mutex
			called := 0
			c := &Client{HTTP: hc}
			files := c.DownloadAll(context.Background(), refs, DownloadOptions{Dir: t.TempDir(), Parallel: par,
				OnFile: func(File) { mu.Lock(); called++; mu.Unlock() }})
			if got := peak.Load(); got != int32(par) {
				t.Errorf("at most %d downloads at once, want %d", got, par)
			}
			if called != len(refs) {
				t.Errorf("OnFile called %d times, want %d", called, len(refs))
			}
			for i, f := range files {
				if f.Err != nil {
					t.Fatalf("file %d: %v", i, f.Err)
				}
				b, _ := os.ReadFile(f.Path)
				var p struct{ ID string }
				json.Unmarshal(b, &p)
				if f.Ref != refs[i] || p.ID != fmt.Sprint("p", i) {
					t.Errorf("file %d holds %s for ref %s", i, p.ID, f.Ref.URL)
				}
			}
		})
	}
	t.Run("cancelled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		c := &Client{HTTP: hc}
		start := time.Now()
		files := c.DownloadAll(ctx, refs, DownloadOptions{Dir: t.TempDir(), Parallel: 2})
		for i, f := range files {
			if !errors.Is(f.Err, context.Canceled) {
				t.Errorf("file %d: error %v, want context.Canceled", i, f.Err)
			}
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("cancelled downloads took %s", d)
		}
	})
}

func TestLineCounter(t *testing.T) {
	tests := []struct {
		chunks []string
		max    int
		lines  int
		ok     bool
	}{
		{[]string{"a\nb\n"}, 10, 2, true},
		{[]string{"a", "b", "c\n", "d"}, 10, 2, true},
		{[]string{"\n\n \n\t\r\n"}, 10, 0, true},
		{[]string{"  a  \n"}, 10, 1, true},
		{[]string{"abcde", "fghij", "k\n"}, 10, 0, false},
		{[]string{"abcde", "fghij\n", "klmnopqrst\n"}, 10, 2, true}, // exactly at the limit
		{[]string{"\n", strings.Repeat("y", 11)}, 10, 0, false},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%q", tt.chunks), func(t *testing.T) {
			c := lineCounter{max: tt.max}
			ok := true
			for _, ch := range tt.chunks {
				if !c.add([]byte(ch)) {
					ok = false
					break
				}
			}
			if ok != tt.ok {
				t.Fatalf("ok %v, want %v", ok, tt.ok)
			}
			if ok {
				if n := c.end(); n != tt.lines {
					t.Errorf("lines %d, want %d", n, tt.lines)
				}
			}
		})
	}
}

// heapPeak samples the heap while a download runs and reports how far it
// rose above where it started. Other tests of the package do not run at
// the same time (only TestPoll* subtests are parallel, among themselves).
type heapPeak struct {
	base, max uint64
	done      chan struct{}
	stopped   chan struct{}
}

func (h *heapPeak) start() {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	h.base, h.max = m.HeapAlloc, m.HeapAlloc
	h.done, h.stopped = make(chan struct{}), make(chan struct{})
	go func() {
		defer close(h.stopped)
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-h.done:
				return
			case <-t.C:
				runtime.ReadMemStats(&m)
				h.max = max(h.max, m.HeapAlloc)
			}
		}
	}()
}

func (h *heapPeak) stop() uint64 {
	close(h.done)
	<-h.stopped
	return h.max - h.base
}
