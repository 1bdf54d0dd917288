package bulk

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/pdex-conform/pdex-conform/runner/evidence"
)

// File is a downloaded export file on disk.
type File struct {
	Ref         ManifestRef
	Path        string
	Lines       int
	Bytes       int64
	Status      int
	ContentType string
	// Err is why the download failed; the file may then be partial.
	Err error
}

// DownloadOptions bound downloads.
type DownloadOptions struct {
	Dir string
	// WithToken sends the bearer token (the manifest's requiresAccessToken).
	WithToken bool
	// Parallel downloads at once; 0 means 4.
	Parallel int
	// MaxBytes bounds one file; 0 means 8 GiB.
	MaxBytes int64
	// MaxLine bounds one NDJSON line; 0 means 64 MiB.
	MaxLine int
	// Idle fails a download that receives nothing for this long; 0 = 60 s.
	Idle time.Duration
	// OnFile, when set, is called as each file finishes, so that validation
	// can start while other files still download.
	OnFile func(File)
}

// ErrLineTooLong is a line longer than DownloadOptions.MaxLine.
var ErrLineTooLong = errors.New("an NDJSON line is longer than the limit")

// DownloadAll downloads every ref, several at a time, and returns the files
// in the order of refs.
func (c *Client) DownloadAll(ctx context.Context, refs []ManifestRef, o DownloadOptions) []File {
	par := o.Parallel
	if par <= 0 {
		par = 4
	}
	out := make([]File, len(refs))
	sem := make(chan struct{}, par)
	var wg sync.WaitGroup
	for i, ref := range refs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				out[i] = File{Ref: ref, Err: ctx.Err()}
				return
			}
			defer func() { <-sem }()
			out[i] = c.Download(ctx, ref, o)
			if o.OnFile != nil {
				o.OnFile(out[i])
			}
		}()
	}
	wg.Wait()
	return out
}

// Download streams one file to a temporary file in o.Dir, counting lines
// and checking limits as it goes; memory stays bounded by the line limit.
func (c *Client) Download(ctx context.Context, ref ManifestRef, o DownloadOptions) File {
	f := File{Ref: ref}
	maxBytes, maxLine, idle := o.MaxBytes, o.MaxLine, o.Idle
	if maxBytes <= 0 {
		maxBytes = 8 << 30
	}
	if maxLine <= 0 {
		maxLine = 64 << 20
	}
	if idle <= 0 {
		idle = 60 * time.Second
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	req, err := c.newRequest(ctx, Request{Method: http.MethodGet, URL: ref.URL, NoAuth: !o.WithToken,
		Header: http.Header{"Accept": {"application/fhir+ndjson"}}})
	if err != nil {
		f.Err = err
		return f
	}
	start := time.Now()
	ex := evidence.Exchange{Method: req.Method, URL: evidence.RedactURL(req.URL.String()), RequestHeaders: evidence.RedactHeaders(req.Header)}
	defer func() {
		ex.Duration, ex.BodyBytes = time.Since(start), f.Bytes
		if f.Err != nil {
			ex.Error = f.Err.Error()
		}
		c.record(ex)
	}()
	resp, err := c.HTTP.Do(req)
	if err != nil {
		f.Err = fmt.Errorf("GET %s: %w", ref.URL, err)
		return f
	}
	defer resp.Body.Close()
	f.Status, f.ContentType = resp.StatusCode, resp.Header.Get("Content-Type")
	ex.Status, ex.ResponseHeaders = resp.StatusCode, evidence.RedactHeaders(resp.Header)
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, evidence.BodyPreview))
		ex.ResponseBody = evidence.Preview(body)
		f.Err = fmt.Errorf("GET %s: HTTP %d", ref.URL, resp.StatusCode)
		return f
	}
	tmp, err := os.CreateTemp(o.Dir, "export-*.ndjson")
	if err != nil {
		f.Err = fmt.Errorf("creating a temporary file: %w", err)
		return f
	}
	defer tmp.Close()
	f.Path = tmp.Name()
	// A watchdog cancels the request when no byte arrives for idle.
	body := &idleReader{r: resp.Body, kick: make(chan struct{}, 1)}
	go func() {
		t := time.NewTimer(idle)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-body.kick:
				t.Reset(idle)
			case <-t.C:
				body.stalled.Store(true)
				cancel()
				return
			}
		}
	}()
	w := bufio.NewWriterSize(tmp, 256<<10)
	var preview []byte
	lineLen := 0
	buf := make([]byte, 64<<10)
	for {
		n, rerr := body.Read(buf)
		chunk := buf[:n]
		if len(preview) < evidence.BodyPreview {
			preview = append(preview, chunk[:min(n, evidence.BodyPreview-len(preview))]...)
		}
		for _, b := range chunk {
			if b == '\n' {
				if lineLen > 0 {
					f.Lines++
				}
				lineLen = 0
				continue
			}
			lineLen++
			if lineLen > maxLine {
				f.Err = fmt.Errorf("%w (%d bytes) in %s at line %d", ErrLineTooLong, maxLine, ref.URL, f.Lines+1)
				return f
			}
		}
		f.Bytes += int64(n)
		if f.Bytes > maxBytes {
			f.Err = fmt.Errorf("%s is larger than the %d-byte limit", ref.URL, maxBytes)
			return f
		}
		if _, err := w.Write(chunk); err != nil {
			f.Err = fmt.Errorf("writing %s: %w", f.Path, err)
			return f
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			if body.stalled.Load() {
				f.Err = fmt.Errorf("%s stalled: nothing received for %s", ref.URL, idle)
			} else {
				f.Err = fmt.Errorf("reading %s: %w", ref.URL, rerr)
			}
			return f
		}
	}
	if lineLen > 0 {
		f.Lines++ // a last line without newline
	}
	ex.ResponseBody = evidence.Preview(preview)
	if err := w.Flush(); err != nil {
		f.Err = fmt.Errorf("writing %s: %w", f.Path, err)
	}
	c.progress("downloaded %s: %d resources, %d bytes", ref.Type, f.Lines, f.Bytes)
	return f
}
