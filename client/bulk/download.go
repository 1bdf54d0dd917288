package bulk

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"sync"
	"time"

	"github.com/pdex-conform/pdex-conform/evidence"
)

// File is a downloaded export file on disk.
type File struct {
	Ref ManifestRef
	// Path is the downloaded file; empty when the download failed (a
	// partial file is removed: its size is bounded only by MaxBytes).
	Path        string
	Lines       int
	Bytes       int64
	Status      int
	ContentType string
	// Err is why the download failed.
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
	// Idle fails a download that receives nothing (headers or body) for
	// this long; 0 means 60 s.
	Idle time.Duration
	// OnFile, when set, is called as each file finishes, so that validation
	// can start while other files still download. Calls may come from
	// several goroutines at once.
	OnFile func(File)
}

// Download errors, for errors.Is.
var (
	// ErrLineTooLong is a line longer than DownloadOptions.MaxLine.
	ErrLineTooLong = errors.New("an NDJSON line is longer than the limit")
	// ErrTooLarge is a file larger than DownloadOptions.MaxBytes.
	ErrTooLarge = errors.New("the file is larger than the limit")
	// ErrStalled is a download that received nothing for
	// DownloadOptions.Idle.
	ErrStalled = errors.New("the download stalled")
	// ErrTruncated is a body that ended before its announced length (or
	// its last chunk): the connection closed mid-file.
	ErrTruncated = errors.New("the file ended early: the connection closed mid-body")
)

// DownloadAll downloads every ref, at most o.Parallel at a time, and returns
// the files in the order of refs. Once ctx ends, the files not yet started
// fail at once with its error.
func (c *Client) DownloadAll(ctx context.Context, refs []ManifestRef, o DownloadOptions) []File {
	par := o.Parallel
	if par <= 0 {
		par = 4
	}
	out := make([]File, len(refs))
	// A fixed pool of workers rather than a goroutine per file: a manifest
	// may list many thousands of files.
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(par, len(refs)) {
		wg.Go(func() {
			for i := range next {
				if err := ctx.Err(); err != nil {
					out[i] = File{Ref: refs[i], Err: fmt.Errorf("GET %s: not started: %w", refs[i].URL, err)}
				} else {
					out[i] = c.Download(ctx, refs[i], o)
				}
				if o.OnFile != nil {
					o.OnFile(out[i])
				}
			}
		})
	}
	for i := range refs {
		next <- i
	}
	close(next)
	wg.Wait()
	return out
}

// limits are a download's bounds with their defaults applied.
type limits struct {
	maxBytes int64
	maxLine  int
	idle     time.Duration
}

func (o DownloadOptions) limits() limits {
	l := limits{o.MaxBytes, o.MaxLine, o.Idle}
	if l.maxBytes <= 0 {
		l.maxBytes = 8 << 30
	}
	if l.maxLine <= 0 {
		l.maxLine = 64 << 20
	}
	if l.idle <= 0 {
		l.idle = 60 * time.Second
	}
	return l
}

// Download streams one file to a temporary file in o.Dir, counting lines
// and checking limits as it goes: memory stays bounded by a read buffer,
// whatever the size of the file or of its lines. A 401 when the token was
// sent renews the token and tries once more.
func (c *Client) Download(ctx context.Context, ref ManifestRef, o DownloadOptions) File {
	if ref.URL == "" {
		return File{Ref: ref, Err: fmt.Errorf("the manifest gives no url for a %q file", ref.Type)}
	}
	if u, err := url.Parse(ref.URL); err != nil || !u.IsAbs() || (u.Scheme != "http" && u.Scheme != "https") {
		return File{Ref: ref, Err: fmt.Errorf("file URL %q is not an absolute http(s) URL", ref.URL)}
	}
	l := o.limits()
	f := c.download(ctx, ref, o, l)
	if f.Status == http.StatusUnauthorized && o.WithToken && c.Auth != nil {
		c.Auth.Invalidate()
		f = c.download(ctx, ref, o, l)
	}
	return f
}

func (c *Client) download(ctx context.Context, ref ManifestRef, o DownloadOptions, l limits) (f File) {
	f.Ref = ref
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	req, err := c.newRequest(ctx, Request{Method: http.MethodGet, URL: ref.URL, NoAuth: !o.WithToken,
		Header: http.Header{"Accept": {"application/fhir+ndjson"}}})
	if err != nil {
		f.Err = err
		return f
	}
	where := evidence.RedactURL(ref.URL)
	start := time.Now()
	ex := evidence.Exchange{Method: req.Method, URL: where, RequestHeaders: evidence.RedactHeaders(req.Header)}
	var preview []byte
	defer func() {
		ex.Duration, ex.BodyBytes = time.Since(start), f.Bytes
		ex.ResponseBody = evidence.Preview(preview)
		if f.Err != nil {
			ex.Error = f.Err.Error()
		}
		c.record(ex)
	}()
	// stopped explains an error caused by the watchdog or the context.
	stopped := func(err error) error {
		switch cause := context.Cause(ctx); {
		case errors.Is(cause, ErrStalled):
			return fmt.Errorf("GET %s: %w: nothing received for %s (after %d bytes)", where, ErrStalled, l.idle, f.Bytes)
		case cause != nil:
			return fmt.Errorf("GET %s: stopped after %d bytes: %w", where, f.Bytes, cause)
		case errors.Is(err, io.ErrUnexpectedEOF):
			return fmt.Errorf("GET %s: %w (after %d bytes)", where, ErrTruncated, f.Bytes)
		}
		return fmt.Errorf("GET %s: %w", where, err)
	}
	dog := startWatchdog(ctx, l.idle, cancel)
	resp, err := c.httpClient().Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		f.Err = stopped(err)
		return f
	}
	defer resp.Body.Close()
	dog.alive()
	f.Status, f.ContentType = resp.StatusCode, resp.Header.Get("Content-Type")
	ex.Status, ex.ResponseHeaders = resp.StatusCode, evidence.RedactHeaders(resp.Header)
	if c.CheckHead != nil {
		ex.Conformance = c.CheckHead(req, resp)
	}
	body := idleReader{r: resp.Body, w: dog}
	if resp.StatusCode != http.StatusOK {
		preview, _ = io.ReadAll(io.LimitReader(body, evidence.BodyPreview))
		f.Err = fmt.Errorf("GET %s: HTTP %d", where, resp.StatusCode)
		return f
	}
	if resp.ContentLength > l.maxBytes {
		f.Err = fmt.Errorf("GET %s: %w: Content-Length %d, limit %d bytes", where, ErrTooLarge, resp.ContentLength, l.maxBytes)
		return f
	}
	tmp, err := os.CreateTemp(o.Dir, "export-*.ndjson")
	if err != nil {
		f.Err = fmt.Errorf("creating a temporary file: %w", err)
		return f
	}
	defer func() {
		if cerr := tmp.Close(); cerr != nil && f.Err == nil {
			f.Err = fmt.Errorf("writing %s: %w", tmp.Name(), cerr)
		}
		if f.Err != nil {
			os.Remove(tmp.Name())
			return
		}
		f.Path = tmp.Name()
	}()
	w := bufio.NewWriterSize(tmp, 256<<10)
	lines := lineCounter{max: l.maxLine}
	buf := make([]byte, 64<<10)
	for {
		n, rerr := body.Read(buf)
		if n > 0 {
			chunk := buf[:n]
			if len(preview) < evidence.BodyPreview {
				preview = append(preview, chunk[:min(n, evidence.BodyPreview-len(preview))]...)
			}
			if f.Bytes+int64(n) > l.maxBytes {
				f.Err = fmt.Errorf("GET %s: %w of %d bytes", where, ErrTooLarge, l.maxBytes)
				return f
			}
			if !lines.add(chunk) {
				f.Err = fmt.Errorf("GET %s: %w (%d bytes) at line %d", where, ErrLineTooLong, l.maxLine, lines.n+1)
				return f
			}
			f.Bytes += int64(n)
			f.Lines = lines.n
			if _, err := w.Write(chunk); err != nil {
				f.Err = fmt.Errorf("writing %s: %w", tmp.Name(), err)
				return f
			}
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			f.Err = stopped(rerr)
			return f
		}
	}
	f.Lines = lines.end()
	if err := w.Flush(); err != nil {
		f.Err = fmt.Errorf("writing %s: %w", tmp.Name(), err)
		return f
	}
	c.progress("downloaded %s: %d resources, %d bytes", ref.Type, f.Lines, f.Bytes)
	return f
}

// lineCounter counts NDJSON lines across chunks the way the suites read
// them (a line of white space alone is no resource), and checks their
// length without keeping them.
type lineCounter struct {
	max, cur int
	content  bool // the current line has more than white space
	n        int
}

// add counts the lines of a chunk; false means a line is over the limit.
func (c *lineCounter) add(chunk []byte) bool {
	for len(chunk) > 0 {
		i := bytes.IndexByte(chunk, '\n')
		seg := chunk
		if i >= 0 {
			seg = chunk[:i]
		}
		c.cur += len(seg)
		if c.cur > c.max {
			return false
		}
		c.content = c.content || len(bytes.TrimSpace(seg)) > 0
		if i < 0 {
			return true
		}
		if c.content {
			c.n++
		}
		c.cur, c.content = 0, false
		chunk = chunk[i+1:]
	}
	return true
}

// end counts a last line without a newline.
func (c *lineCounter) end() int {
	if c.content {
		c.n++
		c.cur, c.content = 0, false
	}
	return c.n
}
