package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/pdex-conform/pdex-conform/fixtures"
	"github.com/pdex-conform/pdex-conform/reference"
	"github.com/pdex-conform/pdex-conform/runner"
)

const serveUsage = `Usage: pdex-conform serve [flags]

Runs the reference Provider Access server, PDex edition 2.0.0 (the November
2023 draft), 2.1.0 or 2.2.0, over an embedded SQLite database, loaded from
the built-in data set or --data.

Flags:
`

func cmdServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("serve", serveUsage, stderr)
	var (
		addr        = fs.String("addr", "127.0.0.1:8080", "address to listen on")
		db          = fs.String("db", "pdex-reference.db", "SQLite database file (created when missing)")
		data        = fs.String("data", "", "folder of NDJSON files (from 'fixtures generate') to load into an empty database (not read when the database holds data)")
		writeConfig = fs.String("write-config", "", "write a run configuration for this server to this file")
		baseURL     = fs.String("base-url", "", "public base URL (default http://ADDR)")
		edition     = fs.String("edition", "2.0.0", "PDex edition: 2.0.0, 2.1.0 or 2.2.0")
		operation   = fs.String("operation", "davinci-data-export", `export operation to serve: "davinci-data-export" (PDex) or "export" (plain Bulk Data Group/[id]/$export, as a payer that starts from Bulk Data)`)
		listFaults  = fs.Bool("list-faults", false, "list the fault switches and exit")
		listVars    = fs.Bool("list-variants", false, "list the conformant variations and exit")
		tlsCert     = fs.String("tls-cert", "", "serve HTTPS with this certificate (PEM)")
		tlsKey      = fs.String("tls-key", "", "the certificate's private key (PEM)")
		clientCA    = fs.String("client-ca", "", "require client certificates signed by this CA (PEM): mutual TLS")
		faults      listFlag
		variants    listFlag
	)
	fs.Var(&faults, "fault", "switch on a fault (repeatable; see --list-faults)")
	fs.Var(&variants, "variant", "switch on a conformant variation (repeatable; see --list-variants)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *listFaults {
		tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
		for _, f := range reference.Faults() {
			fmt.Fprintf(tw, "%s\t%s\t(breaks %s%s)\n", f.Name, f.Description, strings.Join(f.Breaks, "; "), editionsOf(f.Editions))
		}
		return tw.Flush()
	}
	if *listVars {
		tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
		for _, v := range reference.Variants() {
			fmt.Fprintf(tw, "%s\t%s\t(%s%s)\n", v.Name, v.Description, v.Reading, editionsOf(v.Editions))
		}
		return tw.Flush()
	}
	if fs.NArg() > 0 {
		return usagef("serve takes no arguments, got %q", fs.Arg(0))
	}
	opts := reference.Options{
		DB: *db, BaseURL: *baseURL, Edition: *edition, Faults: faults, Variants: variants, Operation: *operation,
		Logger: slog.New(slog.NewTextHandler(stderr, nil)),
	}
	if *tlsCert != "" || *tlsKey != "" || *clientCA != "" {
		if *tlsCert == "" || *tlsKey == "" {
			return usagef("--tls-cert and --tls-key go together (and --client-ca needs both)")
		}
		tc, err := reference.LoadTLSConfig(*tlsCert, *tlsKey, *clientCA)
		if err != nil {
			return usagef("%v", err)
		}
		opts.TLS = tc
	}
	loaded := false
	if *data != "" {
		if st, err := os.Stat(*data); err != nil || !st.IsDir() {
			return usagef("--data %s is not a folder", *data)
		}
		// Read only when the database is empty: a loaded database starts
		// at once, without holding the whole data set in memory.
		opts.Load = func() (*fixtures.Dataset, error) {
			loaded = true
			fmt.Fprintf(stderr, "loading %s into %s\n", *data, *db)
			d, err := fixtures.LoadDir(*data)
			if err != nil {
				return nil, fmt.Errorf("--data: %w", err)
			}
			return d, nil
		}
	}
	srv, err := reference.Listen(ctx, *addr, opts)
	if err != nil {
		return usagef("%v", err)
	}
	defer srv.Close()
	if *data != "" && !loaded {
		fmt.Fprintf(stderr, "%s already holds data: --data %s was not read (use a new --db to load it)\n", *db, *data)
	}
	if *writeConfig != "" {
		facts, err := srv.Facts(ctx)
		if err != nil {
			return err
		}
		cfg := runner.ReferenceConfig(facts)
		if err := cfg.Write(*writeConfig); err != nil {
			return usagef("%v", err)
		}
		fmt.Fprintf(stderr, "wrote the run configuration to %s (it holds a private key: keep it private)\n", *writeConfig)
	}
	fmt.Fprintf(stderr, "reference Provider Access server (edition %s) listening at %s\n", *edition, srv.URL)
	<-ctx.Done()
	fmt.Fprintln(stderr, "shutting down")
	return nil
}

const fixturesUsage = `Usage: pdex-conform fixtures generate [flags]

Writes a deterministic synthetic payer data set as NDJSON, one file per
resource type, in the payer's stored form (claims with financial detail).

Flags:
`

func cmdFixtures(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "generate" {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
			fmt.Fprint(stdout, fixturesUsage)
			return nil
		}
		return usagef("fixtures needs a subcommand: generate")
	}
	fs := newFlags("fixtures generate", fixturesUsage, stderr)
	def := fixtures.DefaultOptions()
	var (
		members = fs.Int("members", def.Members, "members attributed across the Groups")
		groups  = fs.Int("groups", def.Groups, "provider attribution Groups")
		seed    = fs.Int64("seed", def.Seed, "random seed")
		out     = fs.String("out", "", "output folder (required)")
	)
	if err := parse(fs, args[1:]); err != nil {
		return err
	}
	if *out == "" {
		return usagef("fixtures generate needs --out DIR")
	}
	opts := def
	opts.Members, opts.Groups, opts.Seed = *members, *groups, *seed
	opts.OptedOut = 0 // let the generator derive it from Members
	d, err := fixtures.Generate(opts)
	if err != nil {
		return usagef("%v", err)
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return usagef("cannot create %s: %v", *out, err)
	}
	if err := d.WriteDir(*out); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %d resources to %s\n", len(d.Resources), *out)
	return nil
}

// editionsOf says which editions a fault or variant exists in, "" for all.
func editionsOf(eds []string) string {
	if len(eds) == 0 {
		return ""
	}
	return "; edition " + strings.Join(eds, ", ")
}
