package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/pdex-conform/pdex-conform/validators/packages"
)

const packagesUsage = `Usage:
  pdex-conform packages list [--packages PATH]...
  pdex-conform packages install [--registry URL] [--cache DIR] NAME#VERSION ...

list shows the FHIR packages profile validation would use (from --packages,
FHIR_PACKAGES and ~/.fhir/packages), each once, and the dependencies that
are missing. install downloads packages from a FHIR package registry into
the package cache (~/.fhir/packages by default) with their dependencies,
read from each package.json, recursively. Offline, give the .tgz files or
folders with --packages instead, or use --registry URL.

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
	// Each missing package once, with every package that needs it.
	var order []string
	neededBy := map[string][]string{}
	for _, m := range reg.Missing() {
		id := m.Dependency.Name + "#" + m.Dependency.Version
		if _, ok := neededBy[id]; !ok {
			order = append(order, id)
		}
		neededBy[id] = append(neededBy[id], m.Package)
	}
	if len(order) > 0 {
		fmt.Fprintf(stdout, "\n%d dependencies are not loaded (what they define is reported as not checked):\n", len(order))
		tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
		for _, id := range order {
			fmt.Fprintf(tw, "  %s\tneeded by %s\n", id, strings.Join(neededBy[id], ", "))
		}
		tw.Flush()
		fmt.Fprintln(stdout, "Provide them with --packages PATH or FHIR_PACKAGES, or run 'pdex-conform packages install NAME#VERSION'.")
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
	err := packages.InstallAll(ctx, hc, *registry, fs.Args(), *cache, func(in packages.Installed) {
		what := "installed"
		if in.Cached {
			what = "already installed"
		}
		if in.For != "" {
			fmt.Fprintf(stdout, "%s %s in %s (a dependency of %s)\n", what, in.ID, in.Dir, in.For)
		} else {
			fmt.Fprintf(stdout, "%s %s in %s\n", what, in.ID, in.Dir)
		}
	})
	var ue *packages.UnreachableError
	switch {
	case errors.As(err, &ue):
		return usagef("%v; offline, copy the package .tgz files here by other means and give them (or the folder holding them) with --packages PATH or FHIR_PACKAGES, or point --registry URL at a registry you can reach", ue)
	case err != nil:
		return usagef("installing packages: %v", err)
	}
	return nil
}
