package bulk

import (
	"bytes"
	"io"
	"net/http"
	"time"

	"github.com/pdex-conform/pdex-conform/evidence"
)

// maxRecordedBody bounds what a Recorder reads of a response to keep it as
// evidence; larger bodies are passed on unread past this point.
const maxRecordedBody = 1 << 20

// Recorder is an http.RoundTripper that records every exchange as evidence
// (secrets redacted) and checks it against the API description, for
// clients that do not go through Client, such as the token source.
type Recorder struct {
	Base   http.RoundTripper
	Record func(evidence.Exchange)
	Check  func(req *http.Request, reqBody []byte, resp *http.Response, respBody []byte) []string
}

func (r *Recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	base := r.Base
	if base == nil {
		base = http.DefaultTransport
	}
	var reqBody []byte
	if req.Body != nil && req.GetBody != nil {
		if b, err := req.GetBody(); err == nil {
			reqBody, _ = io.ReadAll(io.LimitReader(b, maxRecordedBody))
			b.Close()
		}
	}
	start := time.Now()
	ex := evidence.Exchange{
		Method: req.Method, URL: evidence.RedactURL(req.URL.String()),
		RequestHeaders: evidence.RedactHeaders(req.Header), RequestBody: evidence.Preview(reqBody),
	}
	resp, err := base.RoundTrip(req)
	if err != nil {
		ex.Duration, ex.Error = time.Since(start), err.Error()
		r.record(ex)
		return nil, err
	}
	body, rerr := io.ReadAll(io.LimitReader(resp.Body, maxRecordedBody))
	// The caller still reads the whole body: what was read, then the rest.
	resp.Body = struct {
		io.Reader
		io.Closer
	}{io.MultiReader(bytes.NewReader(body), resp.Body), resp.Body}
	ex.Status, ex.ResponseHeaders = resp.StatusCode, evidence.RedactHeaders(resp.Header)
	ex.ResponseBody, ex.Duration = evidence.Preview(body), time.Since(start)
	if rerr != nil {
		ex.Error = "reading the body: " + rerr.Error()
	} else if r.Check != nil && len(body) < maxRecordedBody {
		ex.Conformance = r.Check(req, reqBody, resp, body)
	}
	r.record(ex)
	return resp, nil
}

func (r *Recorder) record(ex evidence.Exchange) {
	if r.Record != nil {
		r.Record(ex)
	}
}
