// Package packages loads FHIR NPM packages (.tgz files or unpacked folders)
// and indexes their StructureDefinitions, ValueSets and CodeSystems, and the
// CompartmentDefinitions and SearchParameters that say which resources belong
// to a patient, by canonical URL.
//
// Loading is lazy: the index holds each conformance resource's raw JSON (or
// where to find it) and decodes it on first use, and the index of a .tgz
// package is cached on disk, so that start-up does not pay for decompressing
// and decoding the 190 MB of the R4 package every time.
package packages

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
)

// Conformance resource types the registry indexes.
const (
	TypeStructureDefinition = "StructureDefinition"
	TypeValueSet            = "ValueSet"
	TypeCodeSystem          = "CodeSystem"
	// CompartmentDefinitions and SearchParameters are indexed for their
	// raw JSON only (Entry.Raw): validators/compartment reads the Patient
	// compartment from them.
	TypeCompartmentDefinition = "CompartmentDefinition"
	TypeSearchParameter       = "SearchParameter"
)

// Info describes one loaded package.
type Info struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	// Path is the .tgz file or folder it was loaded from.
	Path         string       `json:"path"`
	Canonical    string       `json:"canonical,omitempty"`
	FHIRVersions []string     `json:"fhirVersions,omitempty"`
	Dependencies []Dependency `json:"dependencies,omitempty"`

	StructureDefinitions int `json:"structureDefinitions"`
	ValueSets            int `json:"valueSets"`
	CodeSystems          int `json:"codeSystems"`
	// Examples counts the other resources in the package.
	Examples int `json:"examples"`
	// FromCache is true when the index was read from the on-disk cache.
	FromCache bool `json:"fromCache"`
}

// ID returns the package's name#version.
func (i Info) ID() string { return i.Name + "#" + i.Version }

// Dependency is one name#version a package depends on.
type Dependency struct {
	Name    string `json:"name"`
	Version string `json:"version"`
}

// MissingDependency is a dependency of a loaded package that no loaded
// package provides.
type MissingDependency struct {
	// Package is the name#version of the package that needs it.
	Package    string
	Dependency Dependency
	// Loaded lists other versions of the same package that are loaded.
	Loaded []string
}

func (m MissingDependency) String() string {
	id := m.Dependency.Name + "#" + m.Dependency.Version
	s := fmt.Sprintf("package %s (needed by %s) is not loaded", id, m.Package)
	if len(m.Loaded) > 0 {
		s += fmt.Sprintf(" (loaded: %s)", strings.Join(m.Loaded, ", "))
	}
	return s + fmt.Sprintf("; provide it with --packages PATH, the FHIR_PACKAGES environment variable, or `pdex-conform packages install %s`; profiles and value sets it defines are reported as not checked", id)
}

// Entry is one indexed conformance resource.
type Entry struct {
	ResourceType string
	ID           string
	URL          string
	Version      string
	Name         string
	// Kind and Type are the StructureDefinition's kind and type.
	Kind string
	Type string
	// Package is the name#version of the package holding it.
	Package string

	src  source
	once sync.Once
	val  any
	err  error
}

// source gives the raw JSON of an entry on demand.
type source interface {
	read() ([]byte, error)
}

type memSource []byte

func (m memSource) read() ([]byte, error) { return bytes.Clone(m), nil }

type fileSource string

func (f fileSource) read() ([]byte, error) {
	b, err := os.ReadFile(string(f))
	if err != nil {
		return nil, err
	}
	return trimBOM(b), nil
}

type sectionSource struct {
	f   *os.File
	off int64
	n   int64
}

func (s sectionSource) read() ([]byte, error) {
	b := make([]byte, s.n)
	if _, err := s.f.ReadAt(b, s.off); err != nil {
		return nil, fmt.Errorf("read package cache %s: %w", s.f.Name(), err)
	}
	return b, nil
}

// Raw returns the resource's JSON, read again from its package or the
// index cache (only the decoded form is kept in memory).
func (e *Entry) Raw() ([]byte, error) {
	b, err := e.src.read()
	if err != nil {
		return nil, fmt.Errorf("%s %s (%s): %w", e.ResourceType, e.URL, e.Package, err)
	}
	return b, nil
}

func (e *Entry) load(decode func([]byte) (any, error)) {
	e.once.Do(func() {
		b, err := e.src.read()
		if err != nil {
			e.err = fmt.Errorf("%s %s (%s): %w", e.ResourceType, e.URL, e.Package, err)
			return
		}
		if decode == nil {
			decode = decoderFor(e.ResourceType)
		}
		v, err := decode(b)
		if err != nil {
			e.err = fmt.Errorf("decode %s %s (%s): %w", e.ResourceType, e.URL, e.Package, err)
			return
		}
		e.val = v
	})
}

func decoderFor(rt string) func([]byte) (any, error) {
	switch rt {
	case TypeStructureDefinition:
		return func(b []byte) (any, error) {
			sd := new(StructureDefinition)
			return sd, json.Unmarshal(b, sd)
		}
	case TypeValueSet:
		return func(b []byte) (any, error) {
			vs := new(ValueSet)
			return vs, json.Unmarshal(b, vs)
		}
	case TypeCodeSystem:
		return func(b []byte) (any, error) {
			cs := new(CodeSystem)
			return cs, json.Unmarshal(b, cs)
		}
	}
	return func([]byte) (any, error) { return nil, nil }
}

// Registry is a set of loaded packages. It is safe for concurrent use.
type Registry struct {
	pkgs    []*pkg
	byURL   map[string][]*Entry // canonical -> entries, highest version first
	closers []io.Closer
}

// pkg is a loaded package: its description and where it came from.
type pkg struct {
	info    Info
	root    string // folder holding package.json, for unpacked packages
	tgz     string // .tgz file, for packed packages
	entries []*Entry
}

// Packages lists the loaded packages in load order.
func (r *Registry) Packages() []Info {
	out := make([]Info, len(r.pkgs))
	for i, p := range r.pkgs {
		out[i] = p.info
	}
	return out
}

// Close releases the package cache files the registry reads from.
func (r *Registry) Close() error {
	var first error
	for _, c := range r.closers {
		if err := c.Close(); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// coreStandIns maps packages to the loaded packages that provide the same
// definitions.
var coreStandIns = map[string]string{
	"hl7.fhir.r4.core": "hl7.fhir.r4.examples",
}

// Missing lists the dependencies of loaded packages that are not loaded.
func (r *Registry) Missing() []MissingDependency {
	loaded := map[string][]string{}
	for _, p := range r.pkgs {
		loaded[p.info.Name] = append(loaded[p.info.Name], p.info.Version)
	}
	has := func(name, version string) bool {
		for _, v := range loaded[name] {
			if versionMatches(version, v) {
				return true
			}
		}
		return false
	}
	var out []MissingDependency
	seen := map[string]bool{}
	for _, p := range r.pkgs {
		for _, d := range p.info.Dependencies {
			if has(d.Name, d.Version) {
				continue
			}
			if alt, ok := coreStandIns[d.Name]; ok && has(alt, d.Version) {
				continue
			}
			key := p.info.ID() + ">" + d.Name + "#" + d.Version
			if seen[key] {
				continue
			}
			seen[key] = true
			out = append(out, MissingDependency{Package: p.info.ID(), Dependency: d, Loaded: loaded[d.Name]})
		}
	}
	return out
}

// versionMatches reports whether a loaded version satisfies a dependency
// version, which may end in a wildcard ("1.0.x") or be "current"/"dev".
func versionMatches(want, have string) bool {
	if want == have || want == "" {
		return true
	}
	if strings.HasSuffix(want, ".x") {
		return strings.HasPrefix(have, strings.TrimSuffix(want, "x"))
	}
	return false
}

// Lookup returns the entry for a canonical, which may carry a version
// ("url|version"). Without a version, the highest loaded version is
// returned. With a version that is not loaded, it returns nil and false;
// use Versions to find what is.
func (r *Registry) Lookup(canonical string) (*Entry, bool) {
	url, version, _ := strings.Cut(canonical, "|")
	es := r.byURL[url]
	if len(es) == 0 {
		return nil, false
	}
	if version == "" {
		return es[0], true
	}
	for _, e := range es {
		if e.Version == version {
			return e, true
		}
	}
	// A partial version ("2.0") matches the highest full version it
	// prefixes, as canonical references allow.
	for _, e := range es {
		if strings.HasPrefix(e.Version, version+".") {
			return e, true
		}
	}
	return nil, false
}

// Versions lists the loaded versions of a canonical URL, highest first.
func (r *Registry) Versions(url string) []string {
	url, _, _ = strings.Cut(url, "|")
	var out []string
	for _, e := range r.byURL[url] {
		out = append(out, e.Version)
	}
	return out
}

// StructureDefinition returns the decoded StructureDefinition for a
// canonical. It returns (nil, nil) when none is loaded.
func (r *Registry) StructureDefinition(canonical string) (*StructureDefinition, error) {
	v, err := r.decoded(canonical, TypeStructureDefinition)
	if v == nil {
		return nil, err
	}
	return v.(*StructureDefinition), err
}

// ValueSet returns the decoded ValueSet for a canonical, or (nil, nil).
func (r *Registry) ValueSet(canonical string) (*ValueSet, error) {
	v, err := r.decoded(canonical, TypeValueSet)
	if v == nil {
		return nil, err
	}
	return v.(*ValueSet), err
}

// CodeSystem returns the decoded CodeSystem for a canonical, or (nil, nil).
func (r *Registry) CodeSystem(canonical string) (*CodeSystem, error) {
	v, err := r.decoded(canonical, TypeCodeSystem)
	if v == nil {
		return nil, err
	}
	return v.(*CodeSystem), err
}

func (r *Registry) decoded(canonical, rt string) (any, error) {
	e, ok := r.Lookup(canonical)
	if !ok {
		return nil, nil
	}
	if e.ResourceType != rt {
		// The same canonical can name a ValueSet and, in a code system's
		// valueSet field, a CodeSystem; look among all versions for the
		// wanted type.
		url, version, _ := strings.Cut(canonical, "|")
		e = nil
		for _, c := range r.byURL[url] {
			if c.ResourceType == rt && (version == "" || c.Version == version) {
				e = c
				break
			}
		}
		if e == nil {
			return nil, nil
		}
	}
	e.load(nil)
	if e.err != nil {
		return nil, e.err
	}
	return e.val, nil
}

// Entries returns every indexed resource of the given type (all types when
// rt is empty), sorted by URL and version.
func (r *Registry) Entries(rt string) []*Entry {
	var out []*Entry
	for _, p := range r.pkgs {
		for _, e := range p.entries {
			if rt == "" || e.ResourceType == rt {
				out = append(out, e)
			}
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].URL != out[j].URL {
			return out[i].URL < out[j].URL
		}
		return compareVersions(out[i].Version, out[j].Version) > 0
	})
	return out
}

func (r *Registry) add(p *pkg) {
	r.pkgs = append(r.pkgs, p)
	for _, e := range p.entries {
		if e.URL == "" {
			continue
		}
		dup := false
		for _, o := range r.byURL[e.URL] {
			if o.Version == e.Version && o.ResourceType == e.ResourceType {
				dup = true // first loaded wins
				break
			}
		}
		if !dup {
			r.byURL[e.URL] = append(r.byURL[e.URL], e)
		}
	}
}

func (r *Registry) sortVersions() {
	for _, es := range r.byURL {
		sort.SliceStable(es, func(i, j int) bool { return compareVersions(es[i].Version, es[j].Version) > 0 })
	}
}

// compareVersions orders versions numerically by dotted part ("2.10.0" >
// "2.9.1"); a pre-release ("2.0.0-ballot") sorts before its release.
func compareVersions(a, b string) int {
	a1, apre, _ := strings.Cut(a, "-")
	b1, bpre, _ := strings.Cut(b, "-")
	ap, bp := strings.Split(a1, "."), strings.Split(b1, ".")
	for i := 0; i < len(ap) || i < len(bp); i++ {
		var x, y string
		if i < len(ap) {
			x = ap[i]
		}
		if i < len(bp) {
			y = bp[i]
		}
		if c := compareNumeric(x, y); c != 0 {
			return c
		}
	}
	switch {
	case apre == bpre:
		return 0
	case apre == "":
		return 1
	case bpre == "":
		return -1
	}
	return strings.Compare(apre, bpre)
}

func compareNumeric(x, y string) int {
	x, y = strings.TrimLeft(x, "0"), strings.TrimLeft(y, "0")
	if isDigits(x) && isDigits(y) {
		if len(x) != len(y) {
			if len(x) < len(y) {
				return -1
			}
			return 1
		}
	}
	return strings.Compare(x, y)
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// SearchPaths returns where to look for packages, in order: the paths given
// by flags, then the FHIR_PACKAGES environment variable (a list separated by
// os.PathListSeparator), then the standard ~/.fhir/packages cache when it
// exists.
func SearchPaths(flagPaths []string) []string {
	var out []string
	seen := map[string]bool{}
	addPath := func(p string) {
		p = strings.TrimSpace(p)
		if p == "" || seen[p] {
			return
		}
		seen[p] = true
		out = append(out, p)
	}
	for _, p := range flagPaths {
		addPath(p)
	}
	for _, p := range filepath.SplitList(os.Getenv("FHIR_PACKAGES")) {
		addPath(p)
	}
	if dir := StandardCacheDir(); dir != "" {
		if st, err := os.Stat(dir); err == nil && st.IsDir() {
			addPath(dir)
		}
	}
	return out
}

// StandardCacheDir is ~/.fhir/packages, where the FHIR tooling keeps
// installed packages, or "" when the home directory is unknown.
func StandardCacheDir() string {
	home, err := os.UserHomeDir()
	if err != nil {
		return ""
	}
	return filepath.Join(home, ".fhir", "packages")
}
