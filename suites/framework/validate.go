package framework

import (
	"encoding/json"
	"fmt"
	"runtime"
	"sync"

	"github.com/pdex-conform/pdex-conform/runner/evidence"
	"github.com/pdex-conform/pdex-conform/validators"
	"github.com/pdex-conform/pdex-conform/validators/r4"
)

// Validation is the result of validating every line of an export.
type Validation struct {
	Files []evidence.Validation
	// Structural counts errors from the base R4 structure check only;
	// Errors counts every error (structure and profiles).
	Structural, Errors, Warnings, Lines int
	// ByType counts errors per resource type.
	ByType map[string]int
}

// firstIssues is how many issues per file the evidence keeps.
const firstIssues = 20

// Validate checks every line of the export's output files, once per export,
// using every core.
func (e *Env) Validate(x *Export) *Validation {
	x.validateOnce.Do(func() { x.validation = e.validate(x) })
	return x.validation
}

func (e *Env) validate(x *Export) *Validation {
	v := &Validation{ByType: map[string]int{}}
	results := make([]evidence.Validation, len(x.Files))
	var structural, mu = make([]int, len(x.Files)), sync.Mutex{}
	type job struct {
		file int
		n    int
		line []byte
	}
	jobs := make(chan job, 256)
	var wg sync.WaitGroup
	for w := 0; w < runtime.GOMAXPROCS(0); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				// Each line is validated as what it says it is; a line in
				// the wrong file is another spec's finding.
				typ := lineType(j.line)
				if typ == "" {
					typ = x.Files[j.file].Ref.Type
				}
				issues := e.safeValidate(typ, j.line)
				mu.Lock()
				r := &results[j.file]
				for _, is := range issues {
					switch is.Severity {
					case validators.Error:
						r.Errors++
						if is.Rule == r4.Rule {
							structural[j.file]++
						}
					case validators.Warning:
						r.Warnings++
					default:
						continue
					}
					if len(r.First) < firstIssues {
						r.First = append(r.First, fmt.Sprintf("line %d: %s %s: %s", j.n, is.Severity, is.Path, is.Message))
					} else {
						r.Truncated = true
					}
				}
				mu.Unlock()
			}
		}()
	}
	for i, f := range x.Files {
		results[i].File, results[i].Type = f.Ref.URL, f.Ref.Type
		err := EachLine(f.Path, func(n int, line []byte) error {
			results[i].Lines++
			jobs <- job{i, n, append([]byte(nil), line...)}
			return nil
		})
		if err != nil {
			mu.Lock()
			results[i].Errors++
			results[i].First = append(results[i].First, "reading the file: "+err.Error())
			mu.Unlock()
		}
		e.progress("validating %s: %d lines", f.Ref.Type, results[i].Lines)
	}
	close(jobs)
	wg.Wait()
	for i, r := range results {
		v.Files = append(v.Files, r)
		v.Structural += structural[i]
		v.Errors += r.Errors
		v.Warnings += r.Warnings
		v.Lines += r.Lines
		if r.Errors > 0 {
			v.ByType[r.Type] += r.Errors
		}
	}
	return v
}

func lineType(line []byte) string {
	var h struct {
		ResourceType string `json:"resourceType"`
	}
	json.Unmarshal(line, &h)
	return h.ResourceType
}

// safeValidate runs the validator on one line, turning a panic into an
// error issue: validation runs on worker goroutines, where a panic on a
// hostile line would end the whole run rather than fail one spec.
func (e *Env) safeValidate(resourceType string, line []byte) (issues []validators.Issue) {
	defer func() {
		if p := recover(); p != nil {
			issues = append(issues, validators.Issue{Severity: validators.Error, Rule: r4.Rule,
				Message: fmt.Sprintf("the validator failed on this line (%v)", p)})
		}
	}()
	return e.Validator.Validate(resourceType, line)
}
