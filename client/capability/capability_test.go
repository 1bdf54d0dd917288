package capability

import (
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/pdex-conform/pdex-conform/client/bulk"
)

func TestRead(t *testing.T) {
	tests := []struct {
		name    string
		status  int
		body    string
		want    []string // implementationGuide
		errText string
	}{
		{name: "statement", status: 200, body: `{"resourceType":"CapabilityStatement","fhirVersion":"4.0.1",
			"instantiates":["http://x/cs|1"],"implementationGuide":["http://hl7.org/fhir/us/davinci-pdex/ImplementationGuide/hl7.fhir.us.davinci-pdex|2.1.0"],
			"software":{"name":"payer","version":"9"}}`,
			want: []string{"http://hl7.org/fhir/us/davinci-pdex/ImplementationGuide/hl7.fhir.us.davinci-pdex|2.1.0"}},
		{name: "not found", status: 404, body: `{"resourceType":"OperationOutcome"}`, errText: "HTTP 404"},
		{name: "not JSON", status: 200, body: `<html>`, errText: "did not answer JSON"},
		{name: "another resource", status: 200, body: `{"resourceType":"Bundle"}`, errText: `"Bundle", not a CapabilityStatement`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path != "/fhir/metadata" || r.Header.Get("Accept") != "application/fhir+json" {
					t.Errorf("request %s Accept %q", r.URL.Path, r.Header.Get("Accept"))
				}
				w.WriteHeader(tt.status)
				w.Write([]byte(tt.body))
			}))
			defer srv.Close()
			cs, err := Read(context.Background(), &bulk.Client{Base: srv.URL + "/fhir", HTTP: srv.Client()})
			if tt.errText != "" {
				if err == nil || !strings.Contains(err.Error(), tt.errText) {
					t.Fatalf("got %v, want an error containing %q", err, tt.errText)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(cs.ImplementationGuide, tt.want) || cs.Software.Name != "payer" || cs.Instantiates[0] != "http://x/cs|1" {
				t.Errorf("got %+v", cs)
			}
		})
	}
}
