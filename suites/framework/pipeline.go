package framework

import (
	"cmp"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/pdex-conform/pdex-conform/client/bulk"
	"github.com/pdex-conform/pdex-conform/evidence"
	"github.com/pdex-conform/pdex-conform/fixtures"
	"github.com/pdex-conform/pdex-conform/validators"
	"github.com/pdex-conform/pdex-conform/validators/r4"
)

// pipeline reads each output file of an export once, as soon as it is on
// disk (while other files still download), and on every core indexes each
// line and, when asked, validates it. Lines go through a bounded channel,
// so memory does not grow with the export.
type pipeline struct {
	e        *Env
	index    bool
	validate bool

	jobs    chan lineJob
	readers sync.WaitGroup
	workers sync.WaitGroup

	mu    sync.Mutex
	files map[string]*fileWork // by downloaded path
}

type lineJob struct {
	f    *fileWork
	n    int
	line []byte
}

// fileWork is what the pipeline learns of one file.
type fileWork struct {
	file bulk.File

	// Set by the file's reader goroutine, read after it ends.
	lines   int
	readErr error

	mu         sync.Mutex
	placed     []Resource
	lineErrors []lineError // lines that are not JSON resources, or not UTF-8
	errors     int
	warnings   int
	structural int
	issues     int       // errors and warnings, for truncation
	first      []issueAt // the issues of the lowest-numbered lines
	failing    []evidence.Resource
	notChecked map[string]int
}

type lineError struct {
	line int
	what string
}

type issueAt struct {
	line int
	text string
}

func (e *Env) newPipeline(index, validate bool) *pipeline {
	p := &pipeline{e: e, index: index, validate: validate, jobs: make(chan lineJob, 1024), files: map[string]*fileWork{}}
	for range runtime.GOMAXPROCS(0) {
		p.workers.Add(1)
		go p.work()
	}
	return p
}

// add starts reading a downloaded file into the pipeline and returns at
// once: it is called from the download goroutines (bulk.DownloadOptions
// OnFile). A file that failed to download is left out; its error is the
// download's.
func (p *pipeline) add(f bulk.File) {
	if f.Err != nil || f.Path == "" {
		return
	}
	fw := &fileWork{file: f}
	p.mu.Lock()
	p.files[f.Path] = fw
	p.mu.Unlock()
	p.readers.Add(1)
	go func() {
		defer p.readers.Done()
		fw.readErr = EachLine(f.Path, func(n int, line []byte) error {
			fw.lines++
			p.jobs <- lineJob{fw, n, line} // EachLine gives each line its own slice
			return nil
		})
		if p.validate {
			p.e.progress("validating %s: %d lines", f.Ref.Type, fw.lines)
		}
	}()
}

// wait ends the pipeline once every file added has been read and processed.
// Call it after the last add.
func (p *pipeline) wait() {
	p.readers.Wait()
	close(p.jobs)
	p.workers.Wait()
}

// work indexes and validates lines.
func (p *pipeline) work() {
	defer p.workers.Done()
	for j := range p.jobs {
		var r Resource
		placed := false
		// encoding/json quietly replaces invalid UTF-8; NDJSON must be
		// UTF-8, so it is reported (and the line still indexed, so that
		// other specs see the resource).
		badUTF8 := p.index && !utf8.Valid(j.line)
		if p.index {
			if pl, err := fixtures.Place(j.line); err == nil && pl.Type != "" {
				r = Resource{Type: pl.Type, ID: pl.ID, Patient: pl.Patient, File: j.f.file.Ref.URL, Line: j.n, FileType: j.f.file.Ref.Type}
				r.LastUpdated, _ = time.Parse(time.RFC3339Nano, pl.LastUpdated)
				placed = true
			}
		}
		var issues []validators.Issue
		if p.validate {
			// Each line is validated as what it says it is (the file's
			// type only when it says nothing); a line in the wrong file is
			// another spec's finding.
			issues = p.e.safeValidate(j.f.file.Ref.Type, j.line)
		}
		j.f.mu.Lock()
		if p.index {
			if badUTF8 {
				j.f.lineErrors = append(j.f.lineErrors, lineError{j.n, "not valid UTF-8"})
			}
			if placed {
				j.f.placed = append(j.f.placed, r)
			} else {
				j.f.lineErrors = append(j.f.lineErrors, lineError{j.n, "not a JSON resource"})
			}
		}
		j.f.record(j.n, issues)
		j.f.keepFailing(j.n, j.line, issues)
		j.f.mu.Unlock()
	}
}

// record counts a line's issues and keeps those of the lowest-numbered
// lines, so that the evidence shows the first issues of the file whatever
// order the workers finished in. The caller holds fw.mu.
func (fw *fileWork) record(n int, issues []validators.Issue) {
	for _, is := range issues {
		if is.NotChecked != "" {
			// A check that could not be made offline says nothing against
			// the resource: it is counted once per value set (keepFailing),
			// not listed as a warning of every element.
			continue
		}
		switch is.Severity {
		case validators.Error:
			fw.errors++
			if is.Rule == r4.Rule {
				fw.structural++
			}
		case validators.Warning:
			fw.warnings++
		default:
			continue
		}
		fw.issues++
		fw.first = append(fw.first, issueAt{n, fmt.Sprintf("line %d: %s %s: %s", n, is.Severity, is.Path, is.Message)})
	}
	if len(fw.first) > 4*firstIssues {
		fw.trimFirst()
	}
}

// keepFailing keeps the lowest-numbered lines with an error whole, and
// counts the checks that could not be made offline. The caller holds fw.mu.
func (fw *fileWork) keepFailing(n int, line []byte, issues []validators.Issue) {
	for _, is := range issues {
		if vs, ok := notCheckedOffline(is); ok {
			if fw.notChecked == nil {
				fw.notChecked = map[string]int{}
			}
			fw.notChecked[vs]++
		}
	}
	if len(fw.failing) == maxFailing && fw.failing[maxFailing-1].Line < n {
		return
	}
	r, ok := failingResource(fw.file.Ref.URL, n, line, issues)
	if !ok {
		return
	}
	fw.failing = append(fw.failing, r)
	slices.SortFunc(fw.failing, func(a, b evidence.Resource) int { return cmp.Compare(a.Line, b.Line) })
	if len(fw.failing) > maxFailing {
		fw.failing = fw.failing[:maxFailing]
	}
}

func (fw *fileWork) trimFirst() {
	// Stable: the issues of one line keep the validator's order.
	slices.SortStableFunc(fw.first, func(a, b issueAt) int { return cmp.Compare(a.line, b.line) })
	if len(fw.first) > firstIssues {
		fw.first = fw.first[:firstIssues]
	}
}

// result returns a file's work once the pipeline has ended.
func (p *pipeline) result(f bulk.File) *fileWork {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.files[f.Path]
}

// indexInto fills the export's index from the files, in file and line
// order, as reading them one after the other would: when an id repeats,
// the last line wins.
func (p *pipeline) indexInto(x *Export) error {
	x.Resources = map[string]Resource{}
	for _, f := range x.Files {
		fw := p.result(f)
		if fw == nil {
			continue
		}
		if fw.readErr != nil {
			return fw.readErr
		}
		slices.SortFunc(fw.placed, func(a, b Resource) int { return cmp.Compare(a.Line, b.Line) })
		slices.SortStableFunc(fw.lineErrors, func(a, b lineError) int { return cmp.Compare(a.line, b.line) })
		for _, le := range fw.lineErrors {
			x.lineError(fmt.Sprintf("%s line %d: %s", f.Ref.Type, le.line, le.what))
		}
		for _, r := range fw.placed {
			x.Resources[Key(r.Type, r.ID)] = r
		}
	}
	if x.lineErrorsDropped > 0 {
		x.LineErrors = append(x.LineErrors, fmt.Sprintf("and %d more lines", x.lineErrorsDropped))
	}
	return nil
}

// validation sums the files' validation, in file order.
func (p *pipeline) validation(x *Export) *Validation {
	v := &Validation{ByType: map[string]int{}}
	for _, f := range x.Files {
		r := evidence.Validation{File: f.Ref.URL, Type: f.Ref.Type}
		fw := p.result(f)
		if fw == nil {
			// Not downloaded (or not at all): nothing was validated.
			r.Errors++
			why := "no file on disk"
			if f.Err != nil {
				why = f.Err.Error()
			}
			r.First = append(r.First, "reading the file: "+why)
			v.Files = append(v.Files, r)
			v.Errors += r.Errors
			v.ByType[r.Type] += r.Errors
			continue
		}
		fw.trimFirst()
		r.Lines, r.Errors, r.Warnings = fw.lines, fw.errors, fw.warnings
		for _, is := range fw.first {
			r.First = append(r.First, is.text)
		}
		r.Truncated = fw.issues > len(fw.first)
		if fw.readErr != nil {
			r.Errors++
			r.First = append(r.First, "reading the file: "+fw.readErr.Error())
		}
		v.Files = append(v.Files, r)
		if len(v.Failing) < maxFailing {
			v.Failing = append(v.Failing, fw.failing[:min(len(fw.failing), maxFailing-len(v.Failing))]...)
		}
		for vs, n := range fw.notChecked {
			if v.NotChecked == nil {
				v.NotChecked = map[string]int{}
			}
			v.NotChecked[vs] += n
		}
		v.Structural += fw.structural
		v.Errors += r.Errors
		v.Warnings += r.Warnings
		v.Lines += r.Lines
		if r.Errors > 0 {
			v.ByType[r.Type] += r.Errors
		}
	}
	return v
}
