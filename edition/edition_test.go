package edition

import (
	"strings"
	"testing"
)

func TestDetect(t *testing.T) {
	ig := func(v string) string { return IGCanonical + "|" + v }
	cs := func(v string) string { return CapabilityProviderAccess + "|" + v }
	tests := []struct {
		name          string
		inst, igs     []string
		want, errText string
	}{
		{name: "implementationGuide", igs: []string{ig("2.1.0")}, want: "2.1.0"},
		{name: "instantiates", inst: []string{cs("2.2.0")}, want: "2.2.0"},
		{name: "both agree", inst: []string{cs("2.0.0")}, igs: []string{ig("2.0.0"), "http://hl7.org/fhir/us/core/ImplementationGuide/hl7.fhir.us.core|3.1.1"}, want: "2.0.0"},
		{name: "other IGs only", igs: []string{"http://hl7.org/fhir/us/core/ImplementationGuide/hl7.fhir.us.core|3.1.1"}, errText: "name no PDex IG version"},
		{name: "nothing", errText: "give --edition 2.0.0, 2.1.0, 2.2.0"},
		{name: "unversioned", inst: []string{CapabilityProviderAccess}, errText: "without a version"},
		{name: "unknown version", igs: []string{ig("2.1.1")}, errText: "does not know"},
		{name: "disagree", inst: []string{cs("2.1.0")}, igs: []string{ig("2.2.0")}, errText: "several PDex editions: 2.1.0"},
		{name: "another IG's CapabilityStatement", inst: []string{"http://hl7.org/fhir/uv/bulkdata/CapabilityStatement/bulk-data|2.0.0"}, errText: "name no PDex"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, why, err := Detect(tt.inst, tt.igs)
			if tt.errText != "" {
				if err == nil || !strings.Contains(err.Error(), tt.errText) {
					t.Fatalf("got %v, %q, %v; want an error containing %q", e, why, err, tt.errText)
				}
				if !strings.Contains(err.Error(), "--edition") {
					t.Errorf("the error does not ask for --edition: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if e.Name != tt.want {
				t.Errorf("got %s, want %s", e.Name, tt.want)
			}
			if !strings.Contains(why, "|"+tt.want) {
				t.Errorf("the reason %q does not cite the canonical it read", why)
			}
		})
	}
}

func TestEditionsAsData(t *testing.T) {
	tests := []struct {
		edition        string
		kind           Kind
		exportType     string
		tracks, leaves bool
		params         int
	}{
		{"2.0.0", Snapshot, "hl7.fhir.us.davinci-pdex", false, true, 2},
		{"2.0.0", Download, "hl7.fhir.us.davinci-pdex", true, false, 2},
		{"2.0.0", Delta, "", false, false, 0},
		{"2.1.0", Snapshot, "hl7.fhir.us.davinci-pdex#provider-snapshot", false, false, 1},
		{"2.1.0", Download, "hl7.fhir.us.davinci-pdex#provider-download", true, false, 1},
		{"2.1.0", Delta, "hl7.fhir.us.davinci-pdex#provider-delta", true, false, 1},
		{"2.2.0", Download, "hl7.fhir.us.davinci-pdex#provider-download", false, false, 1},
	}
	for _, tt := range tests {
		e := MustLookup(tt.edition)
		if got := e.ExportType(tt.kind); got != tt.exportType {
			t.Errorf("%s %s: exportType %q, want %q", tt.edition, tt.kind, got, tt.exportType)
		}
		if got := e.Tracks(tt.kind); got != tt.tracks {
			t.Errorf("%s %s: Tracks %v, want %v", tt.edition, tt.kind, got, tt.tracks)
		}
		if got := e.LeavesUntracked(tt.kind); got != tt.leaves {
			t.Errorf("%s %s: LeavesUntracked %v, want %v", tt.edition, tt.kind, got, tt.leaves)
		}
		if got := len(e.Params(tt.kind)); got != tt.params {
			t.Errorf("%s %s: %d params, want %d", tt.edition, tt.kind, got, tt.params)
		}
		if e.Defines(tt.kind) != (tt.params > 0) {
			t.Errorf("%s %s: Defines %v", tt.edition, tt.kind, e.Defines(tt.kind))
		}
	}
	// Params returns a copy: a caller cannot change the table.
	e := MustLookup("2.1.0")
	e.Params(Snapshot)[0].Value = "changed"
	if e.ExportType(Snapshot) == "changed" {
		t.Error("Params handed out the table's own slice")
	}
}

func TestDifferencesAreNamed(t *testing.T) {
	e := MustLookup("2.1.0")
	if got := e.Others(Download); !strings.Contains(got, "2.0.0 sends exportType hl7.fhir.us.davinci-pdex with exportMode download") {
		t.Errorf("Others(download) = %q", got)
	}
	if got := MustLookup("2.0.0").Others(Delta); !strings.Contains(got, "2.1.0 sends exportType hl7.fhir.us.davinci-pdex#provider-delta") {
		t.Errorf("2.0.0 Others(delta) = %q", got)
	}
	if got := e.TrackingElsewhere(); !strings.Contains(got, "2.2.0: nothing") || !strings.Contains(got, "2.0.0: a download records") || strings.Contains(got, "2.1.0:") {
		t.Errorf("TrackingElsewhere = %q", got)
	}
	for _, name := range []string{"2.1.0", "2.2.0"} {
		if len(MustLookup(name).OldForms) != 2 {
			t.Errorf("%s lists %d old forms, want the bare exportType and exportMode", name, len(MustLookup(name).OldForms))
		}
	}
}

func TestLookup(t *testing.T) {
	if e, err := Lookup(""); err != nil || e.Name != Default {
		t.Errorf("Lookup(\"\") = %v, %v", e, err)
	}
	if _, err := Lookup("2.1"); err == nil || !strings.Contains(err.Error(), "2.0.0, 2.1.0, 2.2.0") {
		t.Errorf("Lookup(2.1) = %v", err)
	}
	if _, err := Lookup(Auto); err == nil {
		t.Error("auto is not an edition: Lookup must refuse it (the runner resolves it first)")
	}
}
