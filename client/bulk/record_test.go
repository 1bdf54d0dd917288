package bulk

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/pdex-conform/pdex-conform/evidence"
)

func TestRecorder(t *testing.T) {
	const token = "opaque-access-token-value"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"access_token":"`+token+`","token_type":"bearer","expires_in":300}`)
	}))
	defer srv.Close()
	var got []evidence.Exchange
	checked := 0
	hc := &http.Client{Transport: &Recorder{
		Record: func(ex evidence.Exchange) { got = append(got, ex) },
		Check: func(req *http.Request, reqBody []byte, resp *http.Response, respBody []byte) []string {
			checked++
			return []string{"mismatch"}
		},
	}}
	const assertion = "eyJhbGciOiJSUzM4NCJ9.eyJpc3MiOiJ4In0.c2lnbmF0dXJl"
	resp, err := hc.PostForm(srv.URL+"/token", url.Values{"client_assertion": {assertion}, "grant_type": {"client_credentials"}})
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), token) {
		t.Fatalf("the caller must still read the whole body, got %q", body)
	}
	if len(got) != 1 || checked != 1 {
		t.Fatalf("recorded %d exchanges, checked %d; want 1 and 1", len(got), checked)
	}
	ex := got[0]
	if ex.Status != 200 || ex.Method != "POST" || len(ex.Conformance) != 1 {
		t.Errorf("exchange = %+v", ex)
	}
	for _, s := range []string{ex.RequestBody, ex.ResponseBody} {
		if strings.Contains(s, token) || strings.Contains(s, assertion) {
			t.Errorf("a secret reached the evidence: %q", s)
		}
	}
	if !strings.Contains(ex.RequestBody, "grant_type=client_credentials") {
		t.Errorf("request body not kept: %q", ex.RequestBody)
	}
}

func TestDownloadChecksHead(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"resourceType":"Patient","id":"p1"}`+"\n")
	}))
	defer srv.Close()
	var got []evidence.Exchange
	c := &Client{HTTP: srv.Client(), Record: func(ex evidence.Exchange) { got = append(got, ex) },
		CheckHead: func(req *http.Request, resp *http.Response) []string {
			return []string{"content type " + resp.Header.Get("Content-Type")}
		}}
	f := c.Download(t.Context(), ManifestRef{Type: "Patient", URL: srv.URL + "/files/f1"}, DownloadOptions{Dir: t.TempDir()})
	if f.Err != nil || f.Lines != 1 {
		t.Fatalf("download: %+v", f)
	}
	if len(got) != 1 || len(got[0].Conformance) != 1 || got[0].Conformance[0] != "content type application/json" {
		t.Errorf("the streamed download's head was not checked: %+v", got)
	}
}
