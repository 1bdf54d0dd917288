package reference

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/pdex-conform/pdex-conform/fixtures"
)

// killEnv names the database a helper process serves; see
// TestKillHelperProcess.
const killEnv = "PDEX_REFERENCE_KILL_DB"

// killData is larger than the default set so that an export runs long
// enough to be killed in the middle.
func killData() (*fixtures.Dataset, error) {
	o := fixtures.DefaultOptions()
	o.Members = 300
	return fixtures.Generate(o)
}

// TestKillHelperProcess is not a test: run by TestKillDuringExport as a
// separate process, it serves a reference server until it is killed.
func TestKillHelperProcess(t *testing.T) {
	db := os.Getenv(killEnv)
	if db == "" {
		t.Skip("helper process for TestKillDuringExport")
	}
	d, err := killData()
	if err != nil {
		fmt.Println("ERROR", err)
		os.Exit(1)
	}
	// No status hold, and each chunk stored takes a tenth of a second, so
	// that the export is still writing its ExplanationOfBenefit files when
	// the test kills it, however fast the machine exports.
	srv, err := Listen(context.Background(), "127.0.0.1:0", Options{DB: db, Data: d, StatusHold: -1, chunkWritten: func() { time.Sleep(100 * time.Millisecond) }})
	if err != nil {
		fmt.Println("ERROR", err)
		os.Exit(1)
	}
	fmt.Println("URL", srv.URL)
	select {} // until SIGKILL
}

// TestKillDuringExport: a server killed with SIGKILL in the middle of a
// download export loses no finished job and no last-download value; the
// interrupted job resumes on the next start, and no manifest ever lists a
// partly written file.
func TestKillDuringExport(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a second process with a larger data set")
	}
	db := t.TempDir() + "/reference.db"
	cmd := exec.Command(os.Args[0], "-test.run=^TestKillHelperProcess$")
	cmd.Env = append(os.Environ(), killEnv+"="+db)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	lines := bufio.NewScanner(out)
	var base string
	for lines.Scan() {
		if u, ok := strings.CutPrefix(lines.Text(), "URL "); ok {
			base = u
			break
		}
		if strings.HasPrefix(lines.Text(), "ERROR") {
			t.Fatal(lines.Text())
		}
	}
	if base == "" {
		t.Fatal("the helper process did not start a server")
	}

	// Talk to the child with the credentials it stored in the database.
	st, err := openStore(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := st.setting(context.Background(), "clients", func() ([]byte, error) { return nil, fmt.Errorf("no clients") })
	st.Close()
	if err != nil {
		t.Fatal(err)
	}
	var clients []TestClient
	if err := json.Unmarshal(raw, &clients); err != nil {
		t.Fatal(err)
	}
	child := &harness{t: t, hc: &http.Client{Timeout: 30 * time.Second}, now: time.Now, tokens: map[string]string{}}
	child.srv = &Running{URL: base, Server: &Server{opts: Options{BaseURL: base}, auth: &authority{clients: clients}}}

	first := child.mustExport(exportRequest{params: standard("download", p("patient", "valueReference", "Patient/pat-0003"))})
	k, err := child.kickoff(exportRequest{params: standard("download")})
	if err != nil || k.status != http.StatusAccepted {
		t.Fatalf("kick-off: %v HTTP %d", err, k.status)
	}
	loc := k.header.Get("Content-Location")
	tok := child.token(TestClientID)
	var progress string
	for {
		r := child.mustDo(http.MethodGet, loc, tok, nil, nil)
		if r.status != http.StatusAccepted {
			t.Fatalf("the export ended (HTTP %d) before the kill: make killData larger", r.status)
		}
		progress = r.header.Get("X-Progress")
		if strings.Contains(progress, "ExplanationOfBenefit") {
			break
		}
		time.Sleep(2 * time.Millisecond)
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	t.Logf("killed the server while %q", progress)

	d, err := killData()
	if err != nil {
		t.Fatal(err)
	}
	// Held, so that what survived the kill is checked before the resumed
	// job records new last downloads.
	h := startServerHeld(t, Options{DB: db, Data: d}, true)
	moved := func(u string) string { return strings.Replace(u, base, h.srv.URL, 1) }

	again, err := h.finish(TestClientID, moved(first.statusURL))
	if err != nil {
		t.Fatalf("the job finished before the kill: %v", err)
	}
	if again.manifest.TransactionTime != first.manifest.TransactionTime || len(again.keys()) != len(first.keys()) {
		t.Errorf("the finished job changed: %s, %d resources (was %s, %d)", again.manifest.TransactionTime, len(again.keys()), first.manifest.TransactionTime, len(first.keys()))
	}
	pat, err := h.readResource(TestClientID, "Patient", "pat-0003")
	if err != nil {
		t.Fatal(err)
	}
	if got := lastDownloads(pat); len(got) != 1 || !sameInstant(got[0], first.manifest.TransactionTime) {
		t.Errorf("last download %v after the kill, want %s", got, first.manifest.TransactionTime)
	}

	h.unhold()
	resumed, err := h.finish(TestClientID, moved(loc))
	if err != nil {
		t.Fatalf("the interrupted job: %v", err)
	}
	if dd := diff(resumed.keys(), expected(t, d, selection{group: "group-01"})); dd != "" {
		t.Errorf("the resumed job's output: %s", dd)
	}
	for _, f := range resumed.files {
		if *f.ref.Count != len(f.lines) {
			t.Errorf("%s: count %d but %d lines", f.ref.URL, *f.ref.Count, len(f.lines))
		}
	}
	jobID := loc[strings.LastIndex(loc, "/")+1:]
	var orphans int
	h.srv.store.db.QueryRow(`SELECT count(*) FROM file_chunks WHERE job = ? AND file NOT IN (SELECT id FROM files)`, jobID).Scan(&orphans)
	if orphans != 0 {
		t.Errorf("%d chunks of the killed run remain, listed in no manifest", orphans)
	}
	if pat, err = h.readResource(TestClientID, "Patient", "pat-0003"); err != nil {
		t.Fatal(err)
	}
	if got := lastDownloads(pat); len(got) != 1 || !sameInstant(got[0], resumed.manifest.TransactionTime) {
		t.Errorf("last download %v after the resumed job, want %s", got, resumed.manifest.TransactionTime)
	}
}

func sameInstant(a, b string) bool {
	x, err1 := time.Parse(time.RFC3339Nano, a)
	y, err2 := time.Parse(time.RFC3339Nano, b)
	return err1 == nil && err2 == nil && x.Equal(y)
}
