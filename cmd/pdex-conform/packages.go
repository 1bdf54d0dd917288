package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"text/tabwriter"
	"time"

	"github.com/pdex-conform/pdex-conform/validators/packages"
)

const packagesUsage = `Usage:
  pdex-conform packages list [--packages PATH]...
  pdex-conform packages install [--registry URL] [--cache DIR] NAME#VERSION ...

list shows the FHIR packages profile validation would use (from --packages,
FHIR_PACKAGES and ~/.fhir/packages) and the dependencies that are missing.
install downloads packages from a FHIR package registry into the package
cache (~/.fhir/packages by default).

Flags:
`

func cmdPackages(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usagef("packages needs a subcommand: list or install")
	}
	switch args[0] {
	case "list":
		return packagesList(args[1:], stdout, stderr)
	case "install":
		return packagesInstall(ctx, args[1:], stdout, stderr)
	case "-h", "--help", "help":
		fmt.Fprint(stdout, packagesUsage)
		return nil
	}
	return usagef("unknown packages subcommand %q (list or install)", args[0])
}

func packagesList(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("packages list", packagesUsage, stderr)
	var paths listFlag
	fs.Var(&paths, "packages", "FHIR package .tgz or folder (repeatable)")
	if err := parse(fs, args); err != nil {
		return err
	}
	search := packages.SearchPaths(paths)
	if len(search) == 0 {
		return usagef("no FHIR packages found: give --packages PATH, set FHIR_PACKAGES, or run 'pdex-conform packages install NAME#VERSION'")
	}
	reg, err := packages.Load(search...)
	if err != nil {
		return usagef("%v", err)
	}
	defer reg.Close()
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "PACKAGE\tPROFILES\tVALUE SETS\tCODE SYSTEMS\tEXAMPLES\tPATH")
	for _, p := range reg.Packages() {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%s\n", p.ID(), p.StructureDefinitions, p.ValueSets, p.CodeSystems, p.Examples, p.Path)
	}
	tw.Flush()
	if missing := reg.Missing(); len(missing) > 0 {
		fmt.Fprintf(stdout, "\n%d dependencies are not loaded (what they define is reported as not checked):\n", len(missing))
		for _, m := range missing {
			fmt.Fprintf(stdout, "  %s\n", m)
		}
	}
	return nil
}

func packagesInstall(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("packages install", packagesUsage, stderr)
	registry := fs.String("registry", packages.DefaultRegistry, "FHIR package registry URL")
	cache := fs.String("cache", packages.StandardCacheDir(), "package cache folder")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return usagef("packages install needs NAME#VERSION")
	}
	if *cache == "" {
		return usagef("no home folder for the package cache: give --cache DIR")
	}
	hc := &http.Client{Timeout: 5 * time.Minute}
	for _, id := range fs.Args() {
		dir, err := packages.Install(ctx, hc, *registry, id, *cache)
		if err != nil {
			return usagef("installing %s: %v", id, err)
		}
		fmt.Fprintf(stdout, "installed %s in %s\n", id, dir)
	}
	return nil
}
