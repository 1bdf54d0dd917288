package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sync"

	"github.com/pdex-conform/pdex-conform/validators"
	"github.com/pdex-conform/pdex-conform/validators/pdex"
	"github.com/pdex-conform/pdex-conform/validators/r4"
	"github.com/pdex-conform/pdex-conform/validators/stream"
)

const validateUsage = `Usage: pdex-conform validate [flags] FILE|DIR|- ...

Validates FHIR R4 resources from NDJSON files (.ndjson, .jsonl, or -),
JSON resources and Bundles (.json): base R4 structure, and the Provider
Access rules (no remittance or cost-sharing in claim EOBs). Exits 1 when
any error is found.

Flags:
`

func cmdValidate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("validate", validateUsage, stderr)
	format := fs.String("format", "text", "output format: text or json (one JSON object per issue)")
	all := fs.Bool("all", false, "also print resources without issues (text format)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return usagef("validate needs at least one FILE, DIR or -")
	}
	if *format != "text" && *format != "json" {
		return usagef("--format must be text or json, not %q", *format)
	}
	var pool sync.Pool
	pool.New = func() any {
		p, err := r4.New()
		if err != nil {
			panic(err)
		}
		return p
	}
	check := func(raw []byte) []validators.Issue {
		p := pool.Get().(*r4.Parser)
		issues := p.Check(raw)
		pool.Put(p)
		fin, err := pdex.FinancialIssues(raw)
		if err == nil {
			issues = append(issues, fin...)
		}
		return issues
	}
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
	t, err := stream.Run(ctx, fs.Args(), check, emit, stream.Options{Stdin: os.Stdin})
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
