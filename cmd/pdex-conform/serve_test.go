package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a bytes.Buffer written by a command's goroutine and read by
// the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// serveUntilListening runs `serve` with args until it listens (or ends),
// then stops it, and returns its exit code and stderr.
func serveUntilListening(t *testing.T, args ...string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout, stderr syncBuffer
	code := make(chan int, 1)
	go func() {
		code <- run(ctx, append([]string{"serve", "--addr", "127.0.0.1:0"}, args...), &stdout, &stderr)
	}()
	deadline := time.After(2 * time.Minute)
	for {
		select {
		case c := <-code:
			return c, stderr.String()
		case <-deadline:
			t.Fatalf("serve neither listened nor ended:\n%s", stderr.String())
		case <-time.After(20 * time.Millisecond):
		}
		if strings.Contains(stderr.String(), "listening at") {
			cancel()
			return <-code, stderr.String()
		}
	}
}

// TestServeDataOnlyIntoEmptyDatabase: --data is read into an empty
// database; a database that holds data starts without reading the folder
// (here garbage, which would fail the load), and says so.
func TestServeDataOnlyIntoEmptyDatabase(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	var out bytes.Buffer
	if c := run(context.Background(), []string{"fixtures", "generate", "--members", "8", "--groups", "2", "--out", data}, &out, &out); c != exitOK {
		t.Fatalf("fixtures generate: %d %s", c, out.String())
	}
	db := filepath.Join(dir, "ref.db")
	code, stderr := serveUntilListening(t, "--db", db, "--data", data)
	if code != exitOK || !strings.Contains(stderr, "loading "+data) {
		t.Fatalf("first start: exit %d\n%s", code, stderr)
	}

	garbage := filepath.Join(dir, "garbage")
	os.MkdirAll(garbage, 0o755)
	os.WriteFile(filepath.Join(garbage, "Patient.ndjson"), []byte("not json\n"), 0o644)
	code, stderr = serveUntilListening(t, "--db", db, "--data", garbage)
	if code != exitOK || strings.Contains(stderr, "loading") || !strings.Contains(stderr, "already holds data: --data "+garbage+" was not read") {
		t.Fatalf("start on a loaded database: exit %d\n%s", code, stderr)
	}

	// The same garbage into an empty database is a usage error naming it.
	code, stderr = serveUntilListening(t, "--db", filepath.Join(dir, "new.db"), "--data", garbage)
	if code != exitUsage || !strings.Contains(stderr, "Patient.ndjson:1") {
		t.Errorf("garbage into an empty database: exit %d\n%s", code, stderr)
	}
	code, stderr = serveUntilListening(t, "--db", filepath.Join(dir, "new2.db"), "--data", filepath.Join(dir, "missing"))
	if code != exitUsage || !strings.Contains(stderr, "is not a folder") {
		t.Errorf("a missing --data folder: exit %d\n%s", code, stderr)
	}
}

// TestBenchTable: a report saved with --json prints as the table again.
func TestBenchTable(t *testing.T) {
	dir := t.TempDir()
	saved := filepath.Join(dir, "bench.json")
	os.WriteFile(saved, []byte(`{"goVersion":"go1.26","cpus":2,"gomaxprocs":2,"runs":1,"load":{"median":3.5},
		"sizes":[{"members":300,"suite":{"exported":5000,"seconds":{"median":20},"cpuSeconds":{"median":15},"peakMB":{"median":150,"max":150},
		"areas":[{"name":"Since and until","specs":2,"seconds":{"median":2}}]}}]}`), 0o644)
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"bench", "--table", saved}, &stdout, &stderr); code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	for _, want := range []string{"load average 3.5", "Whole suite", "Since and until", "peak memory of the run, every size  150 MB"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("the table lacks %q:\n%s", want, stdout.String())
		}
	}
	os.WriteFile(saved, []byte("not json"), 0o644)
	if code := run(context.Background(), []string{"bench", "--table", saved}, &stdout, &stderr); code != exitUsage {
		t.Errorf("a file that is not a report: exit %d", code)
	}
}
