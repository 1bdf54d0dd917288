package framework

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"time"

	"github.com/pdex-conform/pdex-conform/client/bulk"
)

// OperationResult is what a FHIR operation that may answer either way
// produced: at once (200 and the result), or through the asynchronous
// request pattern (202, a status URL, a manifest and output files).
type OperationResult struct {
	Kickoff *bulk.Response
	// Async is set when the operation answered 202 and completed through
	// its status URL.
	Async    bool
	Manifest *bulk.Manifest
	// Resources are the result's resources: the body of a 200, or every
	// line of the output files, in manifest order.
	Resources [][]byte
	// Types are the manifest's output types, in order.
	Types []string
}

// maxOperationLines bounds what Operation reads of an operation's output:
// an operation such as $provider-member-match answers with a few Groups,
// not an export.
const maxOperationLines = 10000

// CallOperation POSTs a FHIR operation (path under the base, e.g.
// "Group/$provider-member-match") with a JSON body and Prefer:
// respond-async, and follows the answer: a 200 is the result, a 202 is
// polled to its manifest and the output files read. Anything else is
// returned with the kick-off response and an error. The whole of it is
// bounded by timeouts.export, each exchange by timeouts.request.
func (e *Env) CallOperation(ctx context.Context, path string, body []byte) (*OperationResult, error) {
	limit := e.Config.Timeouts.Export.Duration
	deadline := time.Now().Add(limit)
	ctx, cancel := context.WithDeadlineCause(ctx, deadline, fmt.Errorf("%w (timeouts.export %s)", bulk.ErrPollTimeout, limit))
	defer cancel()
	c := e.Client()
	resp, err := c.Do(ctx, bulk.Request{
		Method: http.MethodPost, URL: path, Body: body,
		Header: http.Header{
			"Content-Type": {"application/fhir+json"},
			"Accept":       {"application/fhir+json"},
			"Prefer":       {"respond-async"},
		},
	})
	if err != nil {
		return nil, fmt.Errorf("POST %s: %w", path, err)
	}
	res := &OperationResult{Kickoff: resp}
	switch resp.StatusCode {
	case http.StatusOK:
		res.Resources = [][]byte{resp.Body}
		return res, nil
	case http.StatusAccepted:
	default:
		return res, &KickoffError{Stage: "POST " + path, Status: resp.StatusCode, Detail: OutcomeText(resp.Body)}
	}
	res.Async = true
	loc := resp.Header.Get("Content-Location")
	if loc == "" {
		return res, fmt.Errorf("POST %s answered 202 without Content-Location", path)
	}
	final, _, err := c.Poll(ctx, loc, bulk.PollOptions{Deadline: deadline})
	if err != nil {
		return res, fmt.Errorf("polling %s: %w", loc, err)
	}
	if final.StatusCode != http.StatusOK {
		return res, &KickoffError{Stage: "status", Status: final.StatusCode, Detail: OutcomeText(final.Body)}
	}
	m, err := bulk.ParseManifest(final.Body)
	if err != nil {
		return res, err
	}
	res.Manifest = m
	withToken := m.RequiresAccessToken != nil && *m.RequiresAccessToken
	files := c.DownloadAll(ctx, resolveRefs(loc, m.Output), bulk.DownloadOptions{Dir: e.WorkDir, WithToken: withToken, Idle: e.Config.Timeouts.Request.Duration})
	var errs []error
	for _, f := range files {
		res.Types = append(res.Types, f.Ref.Type)
		if f.Err != nil {
			errs = append(errs, fmt.Errorf("downloading %s file %s: %w", f.Ref.Type, f.Ref.URL, f.Err))
			continue
		}
		err := EachLine(f.Path, func(_ int, line []byte) error {
			if len(res.Resources) == maxOperationLines {
				return fmt.Errorf("the output holds more than %d resources", maxOperationLines)
			}
			res.Resources = append(res.Resources, append([]byte(nil), line...))
			return nil
		})
		os.Remove(f.Path)
		if err != nil {
			errs = append(errs, err)
		}
	}
	return res, errors.Join(errs...)
}
