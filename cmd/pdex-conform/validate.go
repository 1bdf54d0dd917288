package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/pdex-conform/pdex-conform/runner"
	"github.com/pdex-conform/pdex-conform/validators/check"
	"github.com/pdex-conform/pdex-conform/validators/stream"
)

const validateUsage = `Usage: pdex-conform validate [flags] FILE|DIR|- ...

Validates FHIR R4 resources from NDJSON files (.ndjson, .jsonl, or -),
JSON resources and Bundles (.json): base R4 structure, the profiles the
resource claims and the one the edition expects for it (PDex, CARIN, US
Core; from the FHIR packages), and the Provider Access rules (no remittance
or cost-sharing in claim EOBs). Exits 1 when any error is found.

Flags:
`

func cmdValidate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("validate", validateUsage, stderr)
	format := fs.String("format", "text", "output format: text or json (one JSON object per issue)")
	all := fs.Bool("all", false, "also print resources without issues (text format)")
	edition := fs.String("edition", "2.0.0", "PDex edition whose expected profiles apply")
	crossCheck := fs.Bool("cross-check", false, "also parse each resource with google/fhir/go and warn where its structural verdict differs (slower)")
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
	reg, why, err := runner.LoadPackages(pkgs)
	if err != nil {
		return usagef("%v", err)
	}
	if reg == nil {
		fmt.Fprintln(stderr, "pdex-conform: "+why)
	}
	if *crossCheck && reg == nil {
		return usagef("--cross-check compares google/fhir/go with the FHIR packages' definitions: give --packages")
	}
	chk := check.New(reg, check.Options{Edition: *edition, Profiles: profiles, CrossCheck: *crossCheck})
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
			fmt.Fprintf(w, "%s: %s/%s: %s %s: %s", where, it.Type, it.ID, is.Severity, is.Path, is.Message)
			if is.Rule != "" {
				fmt.Fprintf(w, " [%s]", is.Rule)
			}
			w.WriteByte('\n')
		}
		return nil
	}
	t, err := stream.Run(ctx, fs.Args(), chk.Check, emit, stream.Options{Stdin: os.Stdin})
	w.Flush()
	if err != nil {
		return usagef("%v", err)
	}
	fmt.Fprintf(stderr, "validated %d resources in %d files: %d errors, %d warnings\n", t.Resources, t.Files, t.Errors, t.Warnings)
	if t.Errors > 0 {
		return &failuresError{}
	}
	return nil
}
