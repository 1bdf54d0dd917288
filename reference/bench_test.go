package reference

import (
	"context"
	"flag"
	"net/http"
	"testing"
	"time"

	"github.com/pdex-conform/pdex-conform/client/bulk"
	"github.com/pdex-conform/pdex-conform/fixtures"
)

// benchMembers sizes the data set of BenchmarkFullExport: 0 is the default
// set; pdex-conform bench measures 60, 600 and 6000 in separate processes.
var benchMembers = flag.Int("bench.members", 0, "members of the data set BenchmarkFullExport exports (0: the default set)")

// BenchmarkFullExport measures a full Group export end to end over HTTP on
// loopback with the harness's own Bulk Data client: kick-off, polling, and
// every file streamed to disk, against the default data set (or one of
// -bench.members members). It reports the resources exported per second.
//
//	go test ./reference -run '^$' -bench FullExport -benchtime 3x [-args -bench.members 3000]
func BenchmarkFullExport(b *testing.B) {
	d := testData(b)
	if *benchMembers > 0 {
		o := fixtures.DefaultOptions()
		o.Members, o.OptedOut = *benchMembers, 0
		var err error
		if d, err = fixtures.Generate(o); err != nil {
			b.Fatal(err)
		}
	}
	h := startServer(b, Options{Data: d})
	b.Logf("default data set: %d resources", len(d.Resources))
	c := h.bulk(TestClientID)
	ctx := context.Background()
	dir := b.TempDir()
	var resources int
	b.ResetTimer()
	for range b.N {
		k, err := c.StartExport(ctx, bulk.Kickoff{Group: "group-01", Params: standard("snapshot")})
		if err != nil || k.StatusCode != http.StatusAccepted {
			b.Fatalf("kick-off: %v", err)
		}
		// MaxWait caps the server's Retry-After (1 s) so the benchmark
		// measures the export, not the polling interval.
		final, _, err := c.Poll(ctx, k.Header.Get("Content-Location"), bulk.PollOptions{MinWait: time.Millisecond, MaxWait: 5 * time.Millisecond})
		if err != nil || final.StatusCode != http.StatusOK {
			b.Fatalf("poll: %v", err)
		}
		m, err := bulk.ParseManifest(final.Body)
		if err != nil {
			b.Fatal(err)
		}
		for _, f := range c.DownloadAll(ctx, m.Output, bulk.DownloadOptions{Dir: dir, WithToken: true}) {
			if f.Err != nil {
				b.Fatal(f.Err)
			}
			resources += f.Lines
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(resources)/float64(b.N), "resources/op")
	b.ReportMetric(float64(resources)/b.Elapsed().Seconds(), "resources/s")
}
