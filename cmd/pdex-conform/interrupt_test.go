package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// asCLI makes the test binary stand in for pdex-conform when set, so that a
// test can run the command as a process and signal it.
const asCLI = "PDEX_CONFORM_TEST_AS_CLI"

func TestMain(m *testing.M) {
	if os.Getenv(asCLI) == "1" {
		os.Exit(runProcess(os.Args[1:]))
	}
	os.Exit(m.Run())
}

// TestInterruptWritesReport: Ctrl-C in the middle of a run stops the spec
// under way, and the run still writes its reports, with the verdict
// "incomplete" (exit 3) and the reason that it was cut short. The jobs of
// the reference server are slowed down (slow-jobs) so that the signal comes
// while an export is in progress.
func TestInterruptWritesReport(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the suite in a child process")
	}
	dir := t.TempDir()
	jsonOut, htmlOut := filepath.Join(dir, "r.json"), filepath.Join(dir, "r.html")
	cmd := exec.Command(os.Args[0], "run", "--target", "reference", "--variant", "slow-jobs", "--json", jsonOut, "--report", htmlOut)
	cmd.Env = append(os.Environ(), asCLI+"=1", "FHIR_PACKAGES=", "HOME="+dir)
	var stdout bytes.Buffer
	stderr := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = &stdout, stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Interrupt once the first export is under way.
	deadline := time.Now().Add(2 * time.Minute)
	for !strings.Contains(stderr.String(), "kick-off:") {
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatalf("no export started:\n%s", stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond)
	signalled := time.Now()
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-time.After(time.Minute):
		cmd.Process.Kill()
		t.Fatalf("the run did not end within a minute of Ctrl-C:\n%s", stderr.String())
	}
	t.Logf("ended %s after the signal", time.Since(signalled).Round(time.Millisecond))
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != exitIncomplete {
		t.Fatalf("exit %v, want %d (incomplete)\nstdout:\n%s\nstderr:\n%s", err, exitIncomplete, stdout.String(), stderr.String())
	}
	raw, err := os.ReadFile(jsonOut)
	if err != nil {
		t.Fatalf("no JSON report after Ctrl-C: %v", err)
	}
	var res struct {
		Run struct {
			Verdict string   `json:"verdict"`
			Reasons []string `json:"reasons"`
			Counts  struct {
				Passed, Failed, Skipped, Total int
			} `json:"counts"`
		} `json:"run"`
	}
	if err := json.Unmarshal(raw, &res); err != nil {
		t.Fatal(err)
	}
	if res.Run.Verdict != "incomplete" || !strings.Contains(strings.Join(res.Run.Reasons, " "), "cut short") {
		t.Errorf("verdict %q, reasons %q; want incomplete, cut short", res.Run.Verdict, res.Run.Reasons)
	}
	if res.Run.Counts.Failed != 0 || res.Run.Counts.Skipped == 0 || res.Run.Counts.Total == 0 {
		t.Errorf("counts %+v: want nothing failed and the specs not run skipped", res.Run.Counts)
	}
	if st, err := os.Stat(htmlOut); err != nil || st.Size() == 0 {
		t.Errorf("no HTML report after Ctrl-C: %v", err)
	}
	if !strings.Contains(stdout.String(), "incomplete:") {
		t.Errorf("no verdict line on stdout:\n%s", stdout.String())
	}
}
