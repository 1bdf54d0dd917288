package stream

import (
	"bufio"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/pdex-conform/pdex-conform/fixtures"
	"github.com/pdex-conform/pdex-conform/validators"
)

// BenchmarkRun measures the engine alone (reading lines, their type and id,
// handing them to the workers and emitting results in order) with a
// checker that does nothing, over the default data set as NDJSON.
//
//	go test ./validators/stream -run '^$' -bench Run
func BenchmarkRun(b *testing.B) {
	d, err := fixtures.Default()
	if err != nil {
		b.Fatal(err)
	}
	path := filepath.Join(b.TempDir(), "mix.ndjson")
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriter(f)
	var size int64
	for _, r := range d.Resources {
		w.Write(r.JSON)
		w.WriteByte('\n')
		size += int64(len(r.JSON) + 1)
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	f.Close()
	none := func([]byte) []validators.Issue { return nil }
	emit := func(Item) error { return nil }
	b.SetBytes(size)
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		t, err := Run(context.Background(), []string{path}, none, emit, Options{})
		if err != nil {
			b.Fatal(err)
		}
		n += t.Resources
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "resources/s")
}
