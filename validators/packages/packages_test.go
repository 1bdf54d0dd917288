package packages_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pdex-conform/pdex-conform/validators/packages"
	"github.com/pdex-conform/pdex-conform/validators/packages/packagestest"
)

func TestLoadShipped(t *testing.T) {
	reg := packagestest.Registry(t)
	want := map[string]bool{
		"hl7.fhir.r4.examples#4.0.1":        true,
		"hl7.fhir.us.core#3.1.1":            true,
		"hl7.fhir.us.carin-bb#2.0.0":        true,
		"hl7.fhir.us.davinci-pdex#2.0.0":    true,
		"hl7.fhir.us.davinci-pdex.r4#2.1.0": true,
		"hl7.fhir.us.davinci-hrex#1.0.0":    true,
	}
	for _, p := range reg.Packages() {
		delete(want, p.ID())
		if p.StructureDefinitions == 0 {
			t.Errorf("%s: no StructureDefinitions indexed", p.ID())
		}
	}
	if len(want) > 0 {
		t.Errorf("packages not loaded: %v", want)
	}

	tests := []struct {
		canonical, wantType, wantVersion string
	}{
		{"http://hl7.org/fhir/StructureDefinition/ExplanationOfBenefit", "StructureDefinition", "4.0.1"},
		{"http://hl7.org/fhir/us/carin-bb/StructureDefinition/C4BB-Patient|2.0.0", "StructureDefinition", "2.0.0"},
		{"http://hl7.org/fhir/us/carin-bb/StructureDefinition/C4BB-Patient|2.0", "StructureDefinition", "2.0.0"},
		// Defined by both PDex packages: the unversioned canonical gives the
		// highest version.
		{"http://hl7.org/fhir/us/davinci-pdex/StructureDefinition/pdex-priorauthorization", "StructureDefinition", "2.1.0"},
		{"http://hl7.org/fhir/us/davinci-pdex/StructureDefinition/pdex-priorauthorization|2.0.0", "StructureDefinition", "2.0.0"},
		{"http://hl7.org/fhir/ValueSet/explanationofbenefit-status|4.0.1", "ValueSet", "4.0.1"},
		{"http://terminology.hl7.org/CodeSystem/claim-type", "CodeSystem", "4.0.1"},
		{"http://hl7.org/fhir/us/carin-bb/CodeSystem/C4BBAdjudicationDiscriminator", "CodeSystem", "2.0.0"},
	}
	for _, tc := range tests {
		e, ok := reg.Lookup(tc.canonical)
		if !ok {
			t.Errorf("Lookup(%s): not found", tc.canonical)
			continue
		}
		if e.ResourceType != tc.wantType || e.Version != tc.wantVersion {
			t.Errorf("Lookup(%s) = %s %s, want %s %s", tc.canonical, e.ResourceType, e.Version, tc.wantType, tc.wantVersion)
		}
	}
	if _, ok := reg.Lookup("http://hl7.org/fhir/us/carin-bb/StructureDefinition/C4BB-Patient|1.0.0"); ok {
		t.Error("Lookup of a version that is not loaded succeeded")
	}

	sd, err := reg.StructureDefinition("http://hl7.org/fhir/us/carin-bb/StructureDefinition/C4BB-ExplanationOfBenefit-Oral-NonFinancial")
	if err != nil || sd == nil {
		t.Fatalf("StructureDefinition: %v %v", sd, err)
	}
	if sd.Type != "ExplanationOfBenefit" || len(sd.Snapshot.Element) < 100 {
		t.Errorf("decoded %s: type %s, %d elements", sd.URL, sd.Type, len(sd.Snapshot.Element))
	}
	var pattern bool
	for _, e := range sd.Snapshot.Element {
		if e.ID == "ExplanationOfBenefit.type" {
			pattern = e.PatternType == "CodeableConcept" && e.Pattern != nil
		}
	}
	if !pattern {
		t.Error("patternCodeableConcept of ExplanationOfBenefit.type not decoded")
	}
	cs, err := reg.CodeSystem("http://terminology.hl7.org/CodeSystem/claim-type")
	if err != nil || cs == nil || len(cs.Concept) == 0 {
		t.Errorf("CodeSystem claim-type: %v %v", cs, err)
	}
}

func TestMissing(t *testing.T) {
	reg := packagestest.Registry(t)
	var msgs []string
	for _, m := range reg.Missing() {
		msgs = append(msgs, m.String())
		if m.Dependency.Name == "hl7.fhir.r4.core" || m.Dependency.Name == "hl7.fhir.us.core" {
			t.Errorf("%s reported missing, but it is loaded (r4.examples stands in for r4.core)", m.Dependency.Name)
		}
	}
	all := strings.Join(msgs, "\n")
	for _, want := range []string{
		"package hl7.fhir.us.davinci-atr#2.0.0 (needed by hl7.fhir.us.davinci-pdex.r4#2.1.0) is not loaded",
		"pdex-conform packages install hl7.fhir.us.davinci-atr#2.0.0",
		"FHIR_PACKAGES",
		"--packages",
	} {
		if !strings.Contains(all, want) {
			t.Errorf("Missing() messages lack %q:\n%s", want, all)
		}
	}
}

func TestMacOSMetadataSkipped(t *testing.T) {
	reg := packagestest.Registry(t)
	for _, e := range reg.Entries("") {
		if e.URL == "" {
			t.Errorf("entry without URL from %s: %+v", e.Package, e)
		}
	}
	// The CARIN archive holds a ._ twin of every file; they must not have
	// doubled the counts.
	for _, p := range reg.Packages() {
		if p.Name == "hl7.fhir.us.carin-bb" && p.StructureDefinitions != 16 {
			t.Errorf("carin-bb: %d StructureDefinitions, want 16", p.StructureDefinitions)
		}
	}
}

func TestCacheColdAndWarm(t *testing.T) {
	dir := packagestest.Dir(t)
	tgz := filepath.Join(dir, "hl7.fhir.us.core-3.1.1.tgz")
	cache := t.TempDir()
	cold, err := packages.LoadWithOptions(packages.LoadOptions{CacheDir: cache}, tgz)
	if err != nil {
		t.Fatal(err)
	}
	defer cold.Close()
	warm, err := packages.LoadWithOptions(packages.LoadOptions{CacheDir: cache}, tgz)
	if err != nil {
		t.Fatal(err)
	}
	defer warm.Close()
	if cold.Packages()[0].FromCache || !warm.Packages()[0].FromCache {
		t.Fatalf("FromCache: cold %v warm %v", cold.Packages()[0].FromCache, warm.Packages()[0].FromCache)
	}
	ce, we := cold.Entries(""), warm.Entries("")
	if len(ce) != len(we) || len(ce) == 0 {
		t.Fatalf("entries: cold %d warm %d", len(ce), len(we))
	}
	for i := range ce {
		a, err1 := ce[i].Raw()
		b, err2 := we[i].Raw()
		if err1 != nil || err2 != nil || string(a) != string(b) {
			t.Fatalf("entry %s differs between cold and warm load (%v %v)", ce[i].URL, err1, err2)
		}
	}
	// A corrupt cache file is ignored, not trusted.
	files, _ := filepath.Glob(filepath.Join(cache, "*.idx"))
	if len(files) != 1 {
		t.Fatalf("cache files: %v", files)
	}
	if err := os.WriteFile(files[0], []byte("garbage"), 0o644); err != nil {
		t.Fatal(err)
	}
	again, err := packages.LoadWithOptions(packages.LoadOptions{CacheDir: cache}, tgz)
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	if again.Packages()[0].FromCache || again.Packages()[0].StructureDefinitions != cold.Packages()[0].StructureDefinitions {
		t.Errorf("after corrupting the cache: %+v", again.Packages()[0])
	}
}

func TestSearchPaths(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("FHIR_PACKAGES", strings.Join([]string{"/a", "", "/b"}, string(os.PathListSeparator)))
	got := packages.SearchPaths([]string{"/flag", "/a"})
	want := []string{"/flag", "/a", "/b"}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("without ~/.fhir/packages: %v, want %v", got, want)
	}
	std := filepath.Join(home, ".fhir", "packages")
	if err := os.MkdirAll(std, 0o755); err != nil {
		t.Fatal(err)
	}
	got = packages.SearchPaths(nil)
	want = []string{"/a", "/b", std}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("with ~/.fhir/packages: %v, want %v", got, want)
	}
}

// TestInstallAndLoadFolder installs packages from a local registry serving
// the shipped archives, then loads the installed folders (the
// ~/.fhir/packages layout) and checks they index what the archives do.
func TestInstallAndLoadFolder(t *testing.T) {
	dir := packagestest.Dir(t)
	served := map[string]string{
		"/hl7.fhir.us.core/3.1.1":     filepath.Join(dir, "hl7.fhir.us.core-3.1.1.tgz"),
		"/hl7.fhir.us.carin-bb/2.0.0": filepath.Join(dir, "hl7.fhir.us.carin-bb-2.0.0.tgz"),
	}
	var hits int
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, ok := served[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		hits++
		w.Header().Set("Content-Type", "application/tar+gzip")
		http.ServeFile(w, r, p)
	}))
	defer srv.Close()
	ctx := context.Background()
	cache := t.TempDir()

	var installed []string
	for _, id := range []string{"hl7.fhir.us.core#3.1.1", "hl7.fhir.us.carin-bb#2.0.0"} {
		got, err := packages.Install(ctx, srv.Client(), srv.URL, id, cache)
		if err != nil {
			t.Fatalf("Install(%s): %v", id, err)
		}
		if got != filepath.Join(cache, id) {
			t.Errorf("Install(%s) = %s", id, got)
		}
		if _, err := os.Stat(filepath.Join(got, "package", "package.json")); err != nil {
			t.Errorf("Install(%s): %v", id, err)
		}
		installed = append(installed, got)
	}
	// Installing again is a no-op.
	if _, err := packages.Install(ctx, srv.Client(), srv.URL, "hl7.fhir.us.core#3.1.1", cache); err != nil || hits != 2 {
		t.Errorf("second install: err %v, registry hits %d, want 2", err, hits)
	}
	if m, _ := filepath.Glob(filepath.Join(cache, "*", "package", "._*")); len(m) > 0 {
		t.Errorf("macOS metadata files unpacked: %v", m)
	}

	for _, tc := range []struct{ id, wantErr string }{
		{"hl7.fhir.us.nothere#1.0.0", "404"},
		{"no-version", "not NAME#VERSION"},
		{"../evil#1.0.0", "unexpected character"},
	} {
		_, err := packages.Install(ctx, srv.Client(), srv.URL, tc.id, cache)
		if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
			t.Errorf("Install(%s) error = %v, want %q", tc.id, err, tc.wantErr)
		}
	}

	fromFolder, err := packages.LoadWithOptions(packages.LoadOptions{NoCache: true}, cache)
	if err != nil {
		t.Fatal(err)
	}
	fromTgz, err := packages.LoadWithOptions(packages.LoadOptions{NoCache: true}, served["/hl7.fhir.us.core/3.1.1"], served["/hl7.fhir.us.carin-bb/2.0.0"])
	if err != nil {
		t.Fatal(err)
	}
	fp, tp := fromFolder.Packages(), fromTgz.Packages()
	if len(fp) != 2 || len(tp) != 2 {
		t.Fatalf("packages: folder %d, tgz %d", len(fp), len(tp))
	}
	byID := map[string]packages.Info{}
	for _, p := range tp {
		byID[p.ID()] = p
	}
	for _, p := range fp {
		q := byID[p.ID()]
		if p.StructureDefinitions != q.StructureDefinitions || p.ValueSets != q.ValueSets || p.CodeSystems != q.CodeSystems {
			t.Errorf("%s: folder %d/%d/%d, tgz %d/%d/%d SD/VS/CS", p.ID(), p.StructureDefinitions, p.ValueSets, p.CodeSystems, q.StructureDefinitions, q.ValueSets, q.CodeSystems)
		}
	}
	sd, err := fromFolder.StructureDefinition("http://hl7.org/fhir/us/carin-bb/StructureDefinition/C4BB-Patient|2.0.0")
	if err != nil || sd == nil || sd.Type != "Patient" {
		t.Errorf("C4BB-Patient from the installed folder: %v %v", sd, err)
	}

	// Without .index.json the folder is scanned and gives the same index.
	if err := os.Remove(filepath.Join(installed[0], "package", ".index.json")); err != nil {
		t.Fatal(err)
	}
	scanned, err := packages.LoadWithOptions(packages.LoadOptions{NoCache: true}, installed[0])
	if err != nil {
		t.Fatal(err)
	}
	if got, want := scanned.Packages()[0].StructureDefinitions, byID["hl7.fhir.us.core#3.1.1"].StructureDefinitions; got != want {
		t.Errorf("scanned folder: %d StructureDefinitions, want %d", got, want)
	}
}

func TestWalkExamples(t *testing.T) {
	reg := packagestest.Registry(t)
	n := 0
	err := reg.WalkExamples("hl7.fhir.us.carin-bb", func(ex packages.Example) error {
		n++
		if strings.HasPrefix(filepath.Base(ex.File), "._") {
			t.Errorf("macOS metadata walked: %s", ex.File)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n < 40 {
		t.Errorf("carin-bb: %d examples, want at least 40", n)
	}
	if err := reg.WalkExamples("no.such.package", func(packages.Example) error { return nil }); err == nil {
		t.Error("WalkExamples of an unloaded package succeeded")
	}
}

func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.tgz")
	if err := os.WriteFile(bad, []byte("not gzip"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{filepath.Join(dir, "absent"), bad} {
		if _, err := packages.LoadWithOptions(packages.LoadOptions{NoCache: true}, p); err == nil {
			t.Errorf("Load(%s) succeeded", p)
		}
	}
}

func BenchmarkLoadCold(b *testing.B) {
	dir := packagestest.Dir(b)
	for b.Loop() {
		r, err := packages.LoadWithOptions(packages.LoadOptions{CacheDir: b.TempDir()}, dir)
		if err != nil {
			b.Fatal(err)
		}
		r.Close()
	}
}

func BenchmarkLoadWarm(b *testing.B) {
	dir := packagestest.Dir(b)
	cache := b.TempDir()
	r, err := packages.LoadWithOptions(packages.LoadOptions{CacheDir: cache}, dir)
	if err != nil {
		b.Fatal(err)
	}
	r.Close()
	for b.Loop() {
		r, err := packages.LoadWithOptions(packages.LoadOptions{CacheDir: cache}, dir)
		if err != nil {
			b.Fatal(err)
		}
		r.Close()
	}
}
