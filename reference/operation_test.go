package reference

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pdex-conform/pdex-conform/client/bulk"
)

// TestPlainBulkOperation: with Operation "export" the server serves plain
// Bulk Data Group/[id]/$export: it declares it, exports through it without
// exportType or exportMode, refuses the PDex-only parameters as unsupported
// (or ignores them leniently), and has no $davinci-data-export.
func TestPlainBulkOperation(t *testing.T) {
	h := startServer(t, Options{Operation: OperationBulk})
	ctx := context.Background()
	meta := h.mustDo(http.MethodGet, "/metadata", "", nil, nil)
	var cs struct {
		Instantiates []string `json:"instantiates"`
		Rest         []struct {
			Resource []struct {
				Type      string `json:"type"`
				Operation []struct{ Name, Definition string }
			} `json:"resource"`
		} `json:"rest"`
	}
	if err := json.Unmarshal(meta.body, &cs); err != nil {
		t.Fatal(err)
	}
	if g := cs.Rest[0].Resource[0]; g.Type != "Group" || len(g.Operation) != 1 || g.Operation[0].Name != "export" || g.Operation[0].Definition != bulkExportDefinition {
		t.Errorf("the CapabilityStatement declares %+v on Group, want only export", g.Operation)
	}
	if len(cs.Instantiates) != 1 || !strings.Contains(cs.Instantiates[0], "bulkdata") {
		t.Errorf("instantiates %v, want Bulk Data's", cs.Instantiates)
	}

	c := h.bulk(TestClientID)
	c.Operation = "$export"
	resp, err := c.StartExport(ctx, bulk.Kickoff{Group: testGroup(t, h), Params: []bulk.Param{{Name: "_type", Type: "valueString", Value: "Patient"}}})
	if err != nil || resp.StatusCode != http.StatusAccepted {
		t.Fatalf("a plain $export kick-off: %v %v", resp, err)
	}
	final, _, err := c.Poll(ctx, resp.Header.Get("Content-Location"), bulk.PollOptions{Deadline: time.Now().Add(30 * time.Second)})
	if err != nil || final.StatusCode != http.StatusOK {
		t.Fatalf("polling the plain export: %v %v", final, err)
	}

	for _, p := range []bulk.Param{
		{Name: "exportType", Type: "valueCanonical", Value: "hl7.fhir.us.davinci-pdex"},
		{Name: "exportMode", Type: "valueCode", Value: "snapshot"},
		{Name: "_until", Type: "valueInstant", Value: "2030-01-01T00:00:00Z"},
	} {
		resp, err := c.StartExport(ctx, bulk.Kickoff{Group: testGroup(t, h), Params: []bulk.Param{p}})
		if err != nil || resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(resp.Body), "not supported by $export") {
			t.Errorf("%s on $export: %v %s, want 400 not supported", p.Name, err, resp.Body)
		}
		resp, err = c.StartExport(ctx, bulk.Kickoff{Group: testGroup(t, h), Params: []bulk.Param{p}, Prefer: "respond-async, handling=lenient"})
		if err != nil || resp.StatusCode != http.StatusAccepted {
			t.Errorf("%s on $export, lenient: %v %v, want 202", p.Name, err, resp)
		} else {
			c.Delete(ctx, resp.Header.Get("Content-Location"))
		}
	}

	c.Operation = "$davinci-data-export"
	resp, err = c.StartExport(ctx, bulk.Kickoff{Group: testGroup(t, h), Params: standard("snapshot")})
	if err != nil || resp.StatusCode != http.StatusNotFound {
		t.Errorf("$davinci-data-export on a plain Bulk Data server: %v %v, want 404", resp, err)
	}
	if _, err := New(ctx, Options{BaseURL: "http://x", Operation: "davinci"}); err == nil || !strings.Contains(err.Error(), `operation "davinci"`) {
		t.Errorf("an unknown operation: %v", err)
	}
}

func testGroup(t *testing.T, h *harness) string {
	t.Helper()
	f, err := h.srv.Facts(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return f.Group
}
