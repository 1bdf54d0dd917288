package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/pdex-conform/pdex-conform/edition"
	"github.com/pdex-conform/pdex-conform/runner"
	"github.com/pdex-conform/pdex-conform/validators"
	"github.com/pdex-conform/pdex-conform/validators/check"
	"github.com/pdex-conform/pdex-conform/validators/packages"
	"github.com/pdex-conform/pdex-conform/validators/stream"
)

const validateUsage = `Usage: pdex-conform validate [flags] FILE|DIR|- ...

Validates FHIR R4 resources from NDJSON files (.ndjson, .jsonl, or -),
JSON resources and Bundles (.json): base R4 structure, the profiles the
resource claims and at least one of those the PDex edition accepts for it
(PDex, CARIN, US Core, HRex; from the FHIR packages), and the Provider
Access rules (no remittance or cost-sharing in claim EOBs).

Exit codes: 0 valid; 1 errors found (an empty or unreadable input is one);
2 bad usage; 3 no error found but profiles not checked (no FHIR package
found; --structure-only says that is intended).

Flags:
`

// validateSummary is the last record of --format json: the run's totals and
// what could not be checked offline.
type validateSummary struct {
	Edition         string                       `json:"edition"`
	Files           int                          `json:"files"`
	Resources       int                          `json:"resources"`
	Errors          int                          `json:"errors"`
	Warnings        int                          `json:"warnings"`
	ProfilesChecked bool                         `json:"profilesChecked"`
	NotCheckedTotal int                          `json:"notCheckedTotal"`
	NotChecked      []validators.NotCheckedCount `json:"notChecked"`
}

func cmdValidate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("validate", validateUsage, stderr)
	format := fs.String("format", "text", "output format: text, or json (one JSON object per issue, then a summary object; see README)")
	all := fs.Bool("all", false, "also print resources without issues (text format)")
	ed := fs.String("edition", "2.0.0", "PDex edition whose acceptable profiles apply: "+strings.Join(edition.Names(), ", "))
	structureOnly := fs.Bool("structure-only", false, "check base R4 structure and the Provider Access rules only, no profiles (no FHIR packages needed)")
	var profiles, pkgs listFlag
	fs.Var(&profiles, "profile", "also validate against this profile canonical (repeatable)")
	fs.Var(&pkgs, "packages", "FHIR package .tgz or folder (repeatable; also FHIR_PACKAGES and ~/.fhir/packages)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return usagef("validate needs at least one FILE, DIR or -")
	}
	if *format != "text" && *format != "json" {
		return usagef("--format must be text or json, not %q", *format)
	}
	if _, err := edition.Lookup(*ed); err != nil {
		return usagef("--edition: %v", err)
	}
	if *structureOnly && len(profiles) > 0 {
		return usagef("--structure-only checks no profile: leave out --profile")
	}
	var reg *packages.Registry
	why := "--structure-only"
	if !*structureOnly {
		var err error
		if reg, why, err = runner.LoadPackages(pkgs); err != nil {
			return usagef("%v", err)
		}
		if reg == nil && len(profiles) > 0 {
			return usagef("--profile needs FHIR packages: %s", why)
		}
	}
	var sum validators.Summary
	chk := check.New(reg, check.Options{Edition: *ed, Profiles: profiles, Summary: &sum})

	w := bufio.NewWriter(stdout)
	defer w.Flush()
	enc := json.NewEncoder(w)
	emit := func(it stream.Item) error {
		where := it.File
		if it.Line > 0 {
			where = fmt.Sprintf("%s:%d", it.File, it.Line)
		} else if it.Entry >= 0 {
			where = fmt.Sprintf("%s#entry[%d]", it.File, it.Entry)
		}
		if len(it.Issues) == 0 && *all && *format == "text" {
			fmt.Fprintf(w, "%s: %s/%s ok\n", where, it.Type, it.ID)
		}
		for _, is := range it.Issues {
			is.File, is.Line = it.File, it.Line
			if *format == "json" {
				if err := enc.Encode(is); err != nil {
					return err
				}
				continue
			}
			what := it.Type + "/" + it.ID
			if it.Input {
				what = "input"
			}
			fmt.Fprintf(w, "%s: %s: %s", where, what, is.Severity)
			if is.Path != "" {
				fmt.Fprintf(w, " %s", is.Path)
			}
			fmt.Fprintf(w, ": %s", oneLine(is.Message))
			if is.Rule != "" {
				fmt.Fprintf(w, " [%s]", is.Rule)
			}
			if p := profileShown(is); p != "" {
				fmt.Fprintf(w, " (profile %s)", p)
			}
			w.WriteByte('\n')
		}
		return nil
	}
	t, err := stream.Run(ctx, fs.Args(), chk.Check, emit, stream.Options{Stdin: os.Stdin})
	if err != nil {
		w.Flush()
		return usagef("%v", err)
	}
	if *format == "json" {
		enc.Encode(struct {
			Summary validateSummary `json:"summary"`
		}{validateSummary{
			Edition: *ed, Files: t.Files, Resources: t.Resources, Errors: t.Errors, Warnings: t.Warnings,
			ProfilesChecked: chk.Profiles(), NotCheckedTotal: sum.Total(), NotChecked: sum.NotChecked(),
		}})
	} else {
		fmt.Fprint(w, sum.String())
	}
	w.Flush()
	fmt.Fprintf(stderr, "validated %d resources in %d files (PDex %s): %d errors, %d warnings\n", t.Resources, t.Files, *ed, t.Errors, t.Warnings)
	switch {
	case t.Errors > 0:
		return &failuresError{}
	case !chk.Profiles() && !*structureOnly:
		return &incompleteError{msg: "profiles not checked: " + why}
	}
	return nil
}

// profileShown returns the profile an issue came from, for the text
// output, unless it is the base definition of a FHIR type (their names,
// unlike profiles', start with a capital letter: .../Patient, .../Quantity).
func profileShown(is validators.Issue) string {
	name, ok := strings.CutPrefix(is.Profile, "http://hl7.org/fhir/StructureDefinition/")
	if ok && name != "" && name[0] >= 'A' && name[0] <= 'Z' {
		return ""
	}
	if is.Profile == is.Rule {
		return ""
	}
	return is.Profile
}
