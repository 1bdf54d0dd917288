package framework

import (
	"encoding/json"
	"strings"

	. "github.com/onsi/ginkgo/v2"

	"github.com/pdex-conform/pdex-conform/evidence"
	"github.com/pdex-conform/pdex-conform/validators"
)

// ShowResource attaches an exported resource that the spec found at fault to
// its evidence, with the offending elements, so that the report shows the
// resource itself with them highlighted. Call it on the spec's goroutine,
// for the first few offenders only: a report is read, not searched.
func ShowResource(raw []byte, key string, paths, why []string) {
	js := string(raw)
	if len(js) > evidence.MaxResourceJSON {
		js = strings.ToValidUTF8(js[:evidence.MaxResourceJSON], "") + "…"
	}
	AddReportEntry(evidence.EntryResource, evidence.Resource{Key: key, JSON: evidence.RedactBody(strings.TrimSpace(js)), Paths: paths, Why: why},
		ReportEntryVisibilityNever)
}

// ShowFailing attaches the failing resources a validation kept (the first
// few lines with an error) and the validation's coverage.
func ShowFailing(v *Validation) {
	for _, r := range v.Failing {
		AddReportEntry(evidence.EntryResource, r, ReportEntryVisibilityNever)
	}
	AddReportEntry(evidence.EntryCoverage, evidence.Coverage{Resources: v.Lines, NotChecked: v.NotChecked}, ReportEntryVisibilityNever)
}

// maxFailing is how many failing resources a validation keeps whole.
const maxFailing = 3

// failingResource makes the evidence of a line with errors.
func failingResource(file string, n int, line []byte, issues []validators.Issue) (evidence.Resource, bool) {
	r := evidence.Resource{File: file, Line: n}
	for _, is := range issues {
		if is.Severity != validators.Error {
			continue
		}
		r.Paths = append(r.Paths, is.Path)
		r.Why = append(r.Why, is.Path+": "+is.Message)
	}
	if len(r.Paths) == 0 {
		return r, false
	}
	js := strings.TrimSpace(string(line))
	if len(js) > evidence.MaxResourceJSON {
		js = strings.ToValidUTF8(js[:evidence.MaxResourceJSON], "") + "…"
	}
	r.JSON = evidence.RedactBody(js)
	r.Key = keyOf(line)
	return r, true
}

// keyOf reads "Type/id" from a resource's first members, without decoding
// it whole.
func keyOf(line []byte) string {
	var head struct {
		ResourceType string `json:"resourceType"`
		ID           string `json:"id"`
	}
	_ = json.Unmarshal(line, &head)
	if head.ResourceType == "" {
		return "(not a resource)"
	}
	return head.ResourceType + "/" + head.ID
}

// notCheckedOffline says what (a value set, code system or profile) an
// issue needed and could not have offline, when the issue only says that a
// check was not made.
func notCheckedOffline(is validators.Issue) (string, bool) {
	return is.NotChecked, is.NotChecked != ""
}
