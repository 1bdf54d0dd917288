package reference

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pdex-conform/pdex-conform/fixtures"
)

// TestRestart: a finished job's manifest and files, and the last-download
// values, survive a restart on the same database; a job that was running
// when the server stopped is resumed and completes.
func TestRestart(t *testing.T) {
	d := testData(t)
	f := facts(t, d)
	db := t.TempDir() + "/reference.db"

	h1 := startServer(t, Options{DB: db})
	done := h1.mustExport(exportRequest{params: standard("download", patientParam(f.member), patientParam(f.withEarlier))})
	oldToken := h1.token(TestClientID)
	h1.hold()
	k, err := h1.kickoff(exportRequest{params: standard("download")})
	if err != nil || k.status != http.StatusAccepted {
		t.Fatalf("kick-off: %v HTTP %d", err, k.status)
	}
	cut := k.header.Get("Content-Location")
	// Wait until a worker has claimed the job, then stop the server under it.
	for i := 0; ; i++ {
		r := h1.mustDo(http.MethodGet, cut, oldToken, nil, nil)
		if r.status != http.StatusAccepted {
			t.Fatalf("held job: HTTP %d", r.status)
		}
		if r.header.Get("X-Progress") != "queued" {
			break
		}
		if i > 500 {
			t.Fatal("no worker claimed the job")
		}
		time.Sleep(5 * time.Millisecond)
	}
	h1.close()

	// The premise: the database holds the job as running.
	st, err := openStore(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	var state string
	jobID := cut[strings.LastIndex(cut, "/")+1:]
	if err := st.db.QueryRow(`SELECT state FROM jobs WHERE id = ?`, jobID).Scan(&state); err != nil {
		t.Fatal(err)
	}
	st.Close()
	if state != stateRunning {
		t.Fatalf("the interrupted job is %q in the database, want running", state)
	}

	// The restarted server holds the resumed job until the checks of what
	// survived are done (it would otherwise record new last downloads).
	h2 := startServerHeld(t, Options{DB: db}, true)
	moved := func(u string) string { return strings.Replace(u, h1.srv.URL, h2.srv.URL, 1) }

	t.Run("access tokens survive", func(t *testing.T) {
		if r := h2.mustDo(http.MethodGet, "/Group/group-01", oldToken, nil, nil); r.status != http.StatusOK {
			t.Errorf("a token issued before the restart: HTTP %d", r.status)
		}
	})
	t.Run("finished job survives", func(t *testing.T) {
		again, err := h2.finish(TestClientID, moved(done.statusURL))
		if err != nil {
			t.Fatal(err)
		}
		if again.manifest.TransactionTime != done.manifest.TransactionTime {
			t.Errorf("transactionTime %s, was %s", again.manifest.TransactionTime, done.manifest.TransactionTime)
		}
		if len(again.files) != len(done.files) {
			t.Fatalf("%d files, were %d", len(again.files), len(done.files))
		}
		before := map[string][][]byte{}
		for _, f := range done.files {
			before[moved(f.ref.URL)] = f.lines
		}
		for _, f := range again.files {
			was, ok := before[f.ref.URL]
			if !ok {
				t.Errorf("file %s was not in the manifest before the restart", f.ref.URL)
				continue
			}
			if !bytes.Equal(bytes.Join(was, []byte("\n")), bytes.Join(f.lines, []byte("\n"))) {
				t.Errorf("file %s changed across the restart", f.ref.URL)
			}
		}
	})
	t.Run("last-download values survive", func(t *testing.T) {
		for _, id := range []string{f.member, f.withEarlier} {
			p, err := h2.readResource(TestClientID, "Patient", id)
			if err != nil {
				t.Fatal(err)
			}
			got := lastDownloads(p)
			if len(got) != 1 {
				t.Fatalf("Patient/%s: %v", id, got)
			}
			v, _ := time.Parse(time.RFC3339Nano, got[0])
			tt, _ := time.Parse(time.RFC3339Nano, done.manifest.TransactionTime)
			if !v.Equal(tt) {
				t.Errorf("Patient/%s last download %s, want %s", id, got[0], done.manifest.TransactionTime)
			}
		}
	})
	t.Run("interrupted job resumes", func(t *testing.T) {
		h2.unhold()
		ex, err := h2.finish(TestClientID, moved(cut))
		if err != nil {
			t.Fatalf("the interrupted job did not complete: %v", err)
		}
		if dd := diff(ex.keys(), expected(t, d, selection{group: "group-01"})); dd != "" {
			t.Errorf("the resumed job's output: %s", dd)
		}
		for _, f := range ex.files {
			if *f.ref.Count != len(f.lines) {
				t.Errorf("%s: count %d, %d lines", f.ref.URL, *f.ref.Count, len(f.lines))
			}
		}
		p, err := h2.readResource(TestClientID, "Patient", f.second)
		if err != nil {
			t.Fatal(err)
		}
		if got := lastDownloads(p); len(got) != 1 || !sameInstant(got[0], ex.manifest.TransactionTime) {
			t.Errorf("after the resumed download, Patient/%s last download %v, want %s", f.second, got, ex.manifest.TransactionTime)
		}
	})
}

// TestFailedJobEndsWithOutcome: a job that cannot run ends with an
// OperationOutcome on its status URL, not a 202 forever.
func TestFailedJobEndsWithOutcome(t *testing.T) {
	h := startServer(t, Options{})
	k, err := h.kickoff(exportRequest{params: standard("snapshot")})
	if err != nil || k.status != http.StatusAccepted {
		t.Fatalf("kick-off: %v %d", err, k.status)
	}
	// Let this job fail: its Group disappears before it runs. (Kick-off
	// checks the Group, so only a change behind the server's back does
	// this.)
	h.hold()
	k2, err := h.kickoff(exportRequest{params: standard("snapshot", patientParam(facts(t, testData(t)).member))})
	if err != nil || k2.status != http.StatusAccepted {
		t.Fatalf("kick-off: %v %d", err, k2.status)
	}
	id := k2.header.Get("Content-Location")
	id = id[strings.LastIndex(id, "/")+1:]
	if _, err := h.srv.store.db.Exec(`UPDATE jobs SET params = '{"group":"no-such-group","params":{}}' WHERE id = ?`, id); err != nil {
		t.Fatal(err)
	}
	h.unhold()
	r, err := h.poll(TestClientID, k2.header.Get("Content-Location"))
	if err != nil {
		t.Fatal(err)
	}
	if r.status < 400 {
		t.Fatalf("HTTP %d, want an error status", r.status)
	}
	if _, err := r.outcome(); err != nil {
		t.Error(err)
	}
	if r, err := h.poll(TestClientID, k.header.Get("Content-Location")); err != nil || r.status != http.StatusOK {
		t.Errorf("the other job: %v HTTP %d", err, r.status)
	}
}

// TestLoadOnlyIntoEmptyDatabase: the data set is read (Options.Load) only
// for an empty database; a database already loaded starts without reading
// it, and serves what it holds.
func TestLoadOnlyIntoEmptyDatabase(t *testing.T) {
	db := t.TempDir() + "/reference.db"
	reads := 0
	load := func() (*fixtures.Dataset, error) {
		reads++
		return testData(t), nil
	}
	for i, wantReads := range []int{1, 1, 1} {
		h := startServer(t, Options{DB: db, Load: load})
		if reads != wantReads {
			t.Fatalf("start %d: the data set was read %d times, want %d", i+1, reads, wantReads)
		}
		if r := h.mustDo(http.MethodGet, "/Group/group-01", h.token(TestClientID), nil, nil); r.status != http.StatusOK {
			t.Fatalf("start %d: Group read HTTP %d", i+1, r.status)
		}
		h.close()
	}

	// A data set that cannot be read is an error for an empty database.
	_, err := New(context.Background(), Options{DB: t.TempDir() + "/empty.db", BaseURL: "http://x",
		Load: func() (*fixtures.Dataset, error) { return nil, errors.New("no such folder") }})
	if err == nil || !strings.Contains(err.Error(), "no such folder") {
		t.Errorf("New with a failing Load = %v", err)
	}
}
