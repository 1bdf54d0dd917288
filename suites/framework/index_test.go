package framework

import (
	"context"
	"errors"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/pdex-conform/pdex-conform/client/bulk"
)

// indexed is an export of three Patients and a Condition of one of them,
// downloaded and indexed as RunExport does.
func indexed(t *testing.T) *Export {
	t.Helper()
	x := exportOf(t,
		`{"resourceType":"Patient","id":"p1","meta":{"lastUpdated":"2026-01-01T00:00:00Z"}}`,
		``,
		`{"resourceType":"Patient","id":"p2","meta":{"lastUpdated":"2026-02-01T00:00:00Z"}}`,
		`{"resourceType":"Condition","id":"c1","subject":{"reference":"Patient/p2"},"meta":{"lastUpdated":"2026-03-01T00:00:00Z"}}`,
		`{"resourceType":"Patient","id":"p3","meta":{"lastUpdated":"2026-03-01T00:00:00Z"}}`,
	)
	if err := indexOnly(x); err != nil {
		t.Fatal(err)
	}
	return x
}

func TestExportIndex(t *testing.T) {
	x := indexed(t)
	all := x.Keys(nil)
	if d := Compare(KeySet("Patient/p1", "Patient/p2", "Patient/p3", "Condition/c1"), all); !d.Empty() {
		t.Errorf("Keys(nil): %s", d)
	}
	march := x.Keys(func(r Resource) bool { return r.LastUpdated.Month() == 3 })
	if d := Compare(KeySet("Condition/c1", "Patient/p3"), march); !d.Empty() {
		t.Errorf("Keys(March): %s", d)
	}
	// An index compares with a set directly, without a copy.
	if d := Missing(KeySet("Patient/p9", "Patient/p1"), x.Resources); d.Missing != 1 || d.MissingEg[0] != "Patient/p9" {
		t.Errorf("Missing against the index: %s", d)
	}
	if d := Compare(KeySet("p1", "p2", "p3"), x.PatientSet()); !d.Empty() {
		t.Errorf("PatientSet: %s", d)
	}
	sel := x.Select(func(r Resource) bool { return r.Type == "Patient" })
	slices.Sort(sel)
	if strings.Join(sel, " ") != "Patient/p1 Patient/p2 Patient/p3" {
		t.Errorf("Select = %v", sel)
	}
	// Each indexed resource reads back as its own line, wherever it is.
	for k, r := range x.Resources {
		raw, err := x.Read(r)
		if err != nil {
			t.Fatal(err)
		}
		want := `"id":"` + r.ID + `"`
		if !strings.Contains(string(raw), want) || strings.Count(string(raw), "resourceType") != 1 {
			t.Errorf("Read(%s) = %q", k, raw)
		}
	}
	if _, err := x.Read(Resource{Type: "Patient", ID: "nope"}); err == nil {
		t.Error("Read of a resource not in the index succeeded")
	}
}

func TestEachDecoded(t *testing.T) {
	x := indexed(t)
	type head struct {
		ResourceType string `json:"resourceType"`
		ID           string `json:"id"`
	}
	var ids []string
	err := EachDecoded(x, "", func(h head, raw []byte) error {
		if !strings.Contains(string(raw), h.ID) {
			t.Errorf("%s decoded from %q", h.ID, raw)
		}
		ids = append(ids, h.ResourceType+"/"+h.ID)
		return nil
	})
	if err != nil || strings.Join(ids, " ") != "Patient/p1 Patient/p2 Condition/c1 Patient/p3" {
		t.Errorf("EachDecoded: %v, %v", ids, err)
	}
	stop := errors.New("stop")
	if err := EachDecoded(x, "", func(map[string]any, []byte) error { return stop }); !errors.Is(err, stop) {
		t.Errorf("the callback's error is not returned: %v", err)
	}
	bad := exportOf(t, `{"resourceType":"Patient","id":"p1"}`, `not json`)
	err = EachDecoded(bad, "Patient", func(map[string]any, []byte) error { return nil })
	if err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Errorf("a line that is not JSON: %v, want an error naming line 2", err)
	}
}

// TestRelease: an export's files leave the disk (and the count) when it is
// released; reading it afterwards is an error, not an empty pass.
func TestRelease(t *testing.T) {
	x := indexed(t)
	disk := &bulk.Disk{}
	path := x.Files[0].Path
	if err := x.Release(disk); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the file is still on disk: %v", err)
	}
	if err := x.EachResource("", func([]byte) error { return nil }); !errors.Is(err, ErrReleased) {
		t.Errorf("EachResource after release: %v", err)
	}
	if _, err := x.Read(x.Resources["Patient/p1"]); !errors.Is(err, ErrReleased) {
		t.Errorf("Read after release: %v", err)
	}

	// The exports a spec makes are released when it ends.
	e := &Env{Disk: disk}
	y := indexed(t)
	e.releaseAfterSpec(y)
	e.release()
	if _, err := os.Stat(y.Files[0].Path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the spec's export is still on disk: %v", err)
	}
}

// TestPipelineStopsWhenCancelled: an interrupted run stops reading files at
// once and leaves no goroutine behind.
func TestPipelineStopsWhenCancelled(t *testing.T) {
	var lines []string
	for range 20000 {
		lines = append(lines, `{"resourceType":"Patient","id":"p"}`)
	}
	x := exportOf(t, lines...)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	p := (&Env{}).newPipeline(ctx, true, false)
	p.add(x.Files[0])
	p.wait()
	fw := p.result(x.Files[0])
	if !errors.Is(fw.readErr, context.Canceled) || fw.lines >= len(lines) {
		t.Errorf("read %d of %d lines, error %v; want the reading stopped by the cancellation", fw.lines, len(lines), fw.readErr)
	}
}
