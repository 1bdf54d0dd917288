package packages_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/pdex-conform/pdex-conform/validators/packages"
)

// fakePackage is a FHIR package archive holding a package.json and one
// StructureDefinition.
func fakePackage(t *testing.T, name, version string, deps map[string]string) []byte {
	t.Helper()
	pj, _ := json.Marshal(map[string]any{"name": name, "version": version, "fhirVersions": []string{"4.0.1"}, "dependencies": deps})
	sd, _ := json.Marshal(map[string]any{"resourceType": "StructureDefinition", "id": name, "url": "http://example.org/" + name, "version": version, "kind": "resource", "type": "Patient"})
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for file, body := range map[string][]byte{"package/package.json": pj, "package/StructureDefinition-" + name + ".json": sd} {
		tw.WriteHeader(&tar.Header{Name: file, Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg})
		tw.Write(body)
	}
	tw.Close()
	gz.Close()
	return buf.Bytes()
}

// TestInstallAllFollowsDependencies: installing a package installs what its
// package.json depends on, recursively, each package once (cycles
// included), a version range resolved to the highest matching version the
// registry has; a dependency the registry lacks is reported without
// stopping the others; a second install finds everything in the cache.
func TestInstallAllFollowsDependencies(t *testing.T) {
	served := map[string][]byte{
		"/ig.a/1.0.0":   fakePackage(t, "ig.a", "1.0.0", map[string]string{"ig.b": "1.0.0", "ig.c": "1.x"}),
		"/ig.b/1.0.0":   fakePackage(t, "ig.b", "1.0.0", map[string]string{"ig.c": "1.2.0", "ig.a": "1.0.0"}),
		"/ig.c/1.1.0":   fakePackage(t, "ig.c", "1.1.0", nil),
		"/ig.c/1.2.0":   fakePackage(t, "ig.c", "1.2.0", nil),
		"/ig.e/1.0.0":   fakePackage(t, "ig.e", "1.0.0", map[string]string{"ig.missing": "9.9.9", "ig.c": "1.1.0"}),
		"/ig.c":         []byte(`{"name":"ig.c","versions":{"1.1.0":{},"1.2.0":{},"1.3.0-ballot":{},"2.0.0":{}},"dist-tags":{"latest":"2.0.0"}}`),
		"/ig.c/2.0.0":   fakePackage(t, "ig.c", "2.0.0", nil),
		"/ig.f/1.0.0":   fakePackage(t, "ig.f", "1.0.0", map[string]string{"ig.c": "latest"}),
		"/ig.bad/1.0.0": fakePackage(t, "ig.other", "1.0.0", nil),
	}
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, ok := served[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		hits.Add(1)
		w.Write(b)
	}))
	defer srv.Close()
	ctx := context.Background()
	cache := t.TempDir()
	install := func(ids ...string) ([]string, error) {
		var got []string
		err := packages.InstallAll(ctx, srv.Client(), srv.URL, ids, cache, func(in packages.Installed) {
			s := in.ID
			if in.For != "" {
				s += "<" + in.For
			}
			if in.Cached {
				s += " cached"
			}
			got = append(got, s)
		})
		return got, err
	}

	got, err := install("ig.a#1.0.0")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"ig.a#1.0.0", "ig.b#1.0.0<ig.a#1.0.0", "ig.c#1.2.0<ig.a#1.0.0"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("installed %v, want %v", got, want)
	}
	for _, id := range []string{"ig.a#1.0.0", "ig.b#1.0.0", "ig.c#1.2.0"} {
		if _, err := os.Stat(filepath.Join(cache, id, "package", "package.json")); err != nil {
			t.Errorf("%s not in the cache: %v", id, err)
		}
	}

	before := hits.Load()
	got, err = install("ig.a#1.0.0")
	if err != nil || strings.Join(got, " ") != "ig.a#1.0.0 cached ig.b#1.0.0<ig.a#1.0.0 cached ig.c#1.2.0<ig.a#1.0.0 cached" {
		t.Errorf("second install: %v, %v", got, err)
	}
	if n := hits.Load() - before; n != 1 { // the range 1.x is asked of the registry again
		t.Errorf("second install asked the registry %d times, want 1 (the version range)", n)
	}

	got, err = install("ig.e#1.0.0")
	if err == nil || !strings.Contains(err.Error(), "ig.missing#9.9.9") || !strings.Contains(err.Error(), "needed by ig.e#1.0.0") || !strings.Contains(err.Error(), "404") {
		t.Errorf("a missing dependency must be reported with what needs it, got %v", err)
	}
	if strings.Join(got, " ") != "ig.e#1.0.0 ig.c#1.1.0<ig.e#1.0.0" {
		t.Errorf("the other dependencies must still be installed: %v", got)
	}

	if got, err = install("ig.f#1.0.0"); err != nil || !strings.Contains(strings.Join(got, " "), "ig.c#2.0.0") {
		t.Errorf("latest: %v, %v", got, err)
	}
	if _, err = install("ig.bad#1.0.0"); err == nil || !strings.Contains(err.Error(), "sent ig.other#1.0.0") {
		t.Errorf("a registry sending another package: %v", err)
	}
}

func TestInstallAllUnreachableRegistry(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close() // nothing listens there any more
	err := packages.InstallAll(context.Background(), nil, url, []string{"hl7.fhir.us.core#3.1.1"}, t.TempDir(), nil)
	var ue *packages.UnreachableError
	if !errors.As(err, &ue) || ue.Registry != url {
		t.Fatalf("want an UnreachableError for %s, got %v", url, err)
	}
	if !strings.Contains(fmt.Sprint(err), "cannot reach the FHIR package registry") {
		t.Errorf("message: %v", err)
	}
}
