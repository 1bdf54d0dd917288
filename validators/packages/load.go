package packages

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"sync"
)

// LoadOptions tunes Load.
type LoadOptions struct {
	// CacheDir holds the compiled package indexes. Empty means
	// os.UserCacheDir()/pdex-conform/packages.
	CacheDir string
	// NoCache disables the on-disk index cache.
	NoCache bool
}

// cacheFormat changes whenever the cache file layout or what is indexed
// changes, so that old caches are ignored.
const cacheFormat = "pdex-conform-pkgindex-4"

// Load loads the packages at the given paths. Each path is a .tgz package,
// an unpacked package folder (holding package/package.json or
// package.json), or a folder holding several of those (such as
// ~/.fhir/packages). A package found twice (same name#version) is loaded
// once, from the first path.
func Load(paths ...string) (*Registry, error) {
	return LoadWithOptions(LoadOptions{}, paths...)
}

// LoadWithOptions is Load with options.
func LoadWithOptions(opts LoadOptions, paths ...string) (*Registry, error) {
	if opts.CacheDir == "" && !opts.NoCache {
		if d, err := os.UserCacheDir(); err == nil {
			opts.CacheDir = filepath.Join(d, "pdex-conform", "packages")
		} else {
			opts.NoCache = true
		}
	}
	var found []string
	for _, p := range paths {
		ps, err := findPackages(p)
		if err != nil {
			return nil, err
		}
		found = append(found, ps...)
	}
	// Packages are read in parallel: a cold read of the R4 package is
	// dominated by decompression, which the small packages can overlap.
	loaded := make([]*pkg, len(found))
	closers := make([]io.Closer, len(found))
	errs := make([]error, len(found))
	var wg sync.WaitGroup
	sem := make(chan struct{}, 4)
	for i, p := range found {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			loaded[i], closers[i], errs[i] = loadPackage(p, opts)
		}()
	}
	wg.Wait()
	r := &Registry{byURL: map[string][]*Entry{}}
	for _, c := range closers {
		if c != nil {
			r.closers = append(r.closers, c)
		}
	}
	if err := errors.Join(errs...); err != nil {
		r.Close()
		return nil, err
	}
	seen := map[string]bool{}
	for _, p := range loaded {
		if seen[p.info.ID()] {
			continue
		}
		seen[p.info.ID()] = true
		r.add(p)
	}
	r.sortVersions()
	return r, nil
}

// findPackages expands a path into package locations: .tgz files and
// folders holding package.json.
func findPackages(p string) ([]string, error) {
	st, err := os.Stat(p)
	if err != nil {
		return nil, fmt.Errorf("FHIR packages: %w", err)
	}
	if !st.IsDir() {
		if !isTgz(p) {
			return nil, fmt.Errorf("FHIR packages: %s is neither a .tgz package nor a folder", p)
		}
		return []string{p}, nil
	}
	if root := packageRoot(p); root != "" {
		return []string{p}, nil
	}
	ents, err := os.ReadDir(p)
	if err != nil {
		return nil, fmt.Errorf("FHIR packages: %w", err)
	}
	var out []string
	for _, e := range ents {
		name := e.Name()
		if strings.HasPrefix(name, "._") || strings.HasPrefix(name, ".") {
			continue
		}
		full := filepath.Join(p, name)
		if e.IsDir() {
			if packageRoot(full) != "" {
				out = append(out, full)
			}
			continue
		}
		if isTgz(name) {
			out = append(out, full)
		}
	}
	return out, nil
}

func isTgz(name string) bool {
	return strings.HasSuffix(name, ".tgz") || strings.HasSuffix(name, ".tar.gz")
}

// packageRoot returns the folder holding package.json within an unpacked
// package folder, or "".
func packageRoot(dir string) string {
	for _, d := range []string{filepath.Join(dir, "package"), dir} {
		if st, err := os.Stat(filepath.Join(d, "package.json")); err == nil && !st.IsDir() {
			return d
		}
	}
	return ""
}

// packageJSON is the part of package.json the registry reads.
type packageJSON struct {
	Name         string            `json:"name"`
	Version      string            `json:"version"`
	Canonical    string            `json:"canonical"`
	FHIRVersions []string          `json:"fhirVersions"`
	Dependencies map[string]string `json:"dependencies"`
}

func (pj packageJSON) info(path string) Info {
	inf := Info{Name: pj.Name, Version: pj.Version, Path: path, Canonical: pj.Canonical, FHIRVersions: pj.FHIRVersions}
	for n, v := range pj.Dependencies {
		inf.Dependencies = append(inf.Dependencies, Dependency{Name: n, Version: v})
	}
	sort.Slice(inf.Dependencies, func(i, j int) bool { return inf.Dependencies[i].Name < inf.Dependencies[j].Name })
	return inf
}

func parsePackageJSON(b []byte, where string) (packageJSON, error) {
	var pj packageJSON
	if err := json.Unmarshal(trimBOM(b), &pj); err != nil {
		return pj, fmt.Errorf("%s: package.json: %w", where, err)
	}
	if pj.Name == "" || pj.Version == "" {
		return pj, fmt.Errorf("%s: package.json has no name or version", where)
	}
	return pj, nil
}

func loadPackage(p string, opts LoadOptions) (*pkg, io.Closer, error) {
	if isTgz(p) {
		return loadTgz(p, opts)
	}
	pk, err := loadFolder(p)
	return pk, nil, err
}

// indexedType reports whether the registry indexes resources of this type.
func indexedType(rt string) bool {
	switch rt {
	case TypeStructureDefinition, TypeValueSet, TypeCodeSystem, TypeCompartmentDefinition, TypeSearchParameter:
		return true
	}
	return false
}

// definitionTypes are resource types that a package holds as definitions,
// not examples.
var definitionTypes = map[string]bool{
	"StructureDefinition": true, "ValueSet": true, "CodeSystem": true, "SearchParameter": true,
	"CapabilityStatement": true, "ImplementationGuide": true, "OperationDefinition": true,
	"ConceptMap": true, "NamingSystem": true, "CompartmentDefinition": true, "StructureMap": true,
	"GraphDefinition": true, "MessageDefinition": true, "TerminologyCapabilities": true,
}

// skipFile reports whether a file inside a package is never a resource:
// macOS metadata, the package manifest and index, and files outside JSON.
func skipFile(rel string) bool {
	base := path.Base(rel)
	if strings.HasPrefix(base, "._") || base == "package.json" || base == ".index.json" {
		return true
	}
	if !strings.HasSuffix(base, ".json") {
		return true
	}
	// other/, openapi/ and xml/ hold tooling files, not resources.
	for _, d := range []string{"other/", "openapi/", "xml/"} {
		if strings.HasPrefix(rel, d) {
			return true
		}
	}
	return false
}

// isExample reports whether a package file holding a resource of type rt
// is an example.
func isExample(rel, rt string) bool {
	if rt == "" {
		return false
	}
	if strings.HasPrefix(rel, "example/") {
		return true
	}
	return !definitionTypes[rt]
}

// loadTgz reads a package's index from the disk cache, or builds it by
// reading the archive and writes the cache.
func loadTgz(p string, opts LoadOptions) (*pkg, io.Closer, error) {
	abs, err := filepath.Abs(p)
	if err != nil {
		return nil, nil, err
	}
	st, err := os.Stat(abs)
	if err != nil {
		return nil, nil, fmt.Errorf("FHIR package %s: %w", p, err)
	}
	var cachePath string
	if !opts.NoCache {
		h := sha256.Sum256(fmt.Appendf(nil, "%s\x00%s\x00%d\x00%d", cacheFormat, abs, st.Size(), st.ModTime().UnixNano()))
		cachePath = filepath.Join(opts.CacheDir, strings.TrimSuffix(filepath.Base(abs), ".tgz")+"-"+hex.EncodeToString(h[:12])+".idx")
		if pk, f, err := readCache(cachePath, p); err == nil {
			return pk, f, nil
		}
	}
	return buildTgz(p, cachePath)
}

// cacheIndex is the index part of a cache file.
type cacheIndex struct {
	Package  json.RawMessage `json:"package"`
	Examples int             `json:"examples"`
	Entries  []cacheEntry    `json:"entries"`
}

type cacheEntry struct {
	RT      string `json:"rt"`
	ID      string `json:"id,omitempty"`
	URL     string `json:"url,omitempty"`
	Version string `json:"v,omitempty"`
	Name    string `json:"n,omitempty"`
	Kind    string `json:"k,omitempty"`
	Type    string `json:"t,omitempty"`
	Off     int64  `json:"o"`
	Len     int64  `json:"l"`
}

// The cache file is the compacted JSON of the indexed resources, one after
// another, then the index (JSON), then a trailer: the index offset and a
// magic string.
var cacheMagic = []byte("PDXIDX2\n")

func readCache(cachePath, p string) (*pkg, io.Closer, error) {
	f, err := os.Open(cachePath)
	if err != nil {
		return nil, nil, err
	}
	fail := func(err error) (*pkg, io.Closer, error) {
		f.Close()
		return nil, nil, err
	}
	st, err := f.Stat()
	if err != nil {
		return fail(err)
	}
	if st.Size() < 16 {
		return fail(errors.New("short cache file"))
	}
	var trailer [16]byte
	if _, err := f.ReadAt(trailer[:], st.Size()-16); err != nil {
		return fail(err)
	}
	if !bytes.Equal(trailer[8:], cacheMagic) {
		return fail(errors.New("bad cache magic"))
	}
	idxOff := int64(binary.LittleEndian.Uint64(trailer[:8]))
	if idxOff < 0 || idxOff > st.Size()-16 {
		return fail(errors.New("bad cache index offset"))
	}
	idxBytes := make([]byte, st.Size()-16-idxOff)
	if _, err := f.ReadAt(idxBytes, idxOff); err != nil {
		return fail(err)
	}
	var idx cacheIndex
	if err := json.Unmarshal(idxBytes, &idx); err != nil {
		return fail(err)
	}
	pj, err := parsePackageJSON(idx.Package, p)
	if err != nil {
		return fail(err)
	}
	pk := &pkg{info: pj.info(p), tgz: p}
	pk.info.FromCache = true
	pk.info.Examples = idx.Examples
	id := pk.info.ID()
	pk.entries = make([]*Entry, 0, len(idx.Entries))
	for _, ce := range idx.Entries {
		if ce.Off < 0 || ce.Len < 0 || ce.Off+ce.Len > idxOff {
			return fail(errors.New("bad cache entry"))
		}
		pk.entries = append(pk.entries, &Entry{
			ResourceType: ce.RT, ID: ce.ID, URL: ce.URL, Version: ce.Version, Name: ce.Name,
			Kind: ce.Kind, Type: ce.Type, Package: id,
			src: sectionSource{f: f, off: ce.Off, n: ce.Len},
		})
	}
	pk.count()
	return pk, f, nil
}

func (p *pkg) count() {
	for _, e := range p.entries {
		switch e.ResourceType {
		case TypeStructureDefinition:
			p.info.StructureDefinitions++
		case TypeValueSet:
			p.info.ValueSets++
		case TypeCodeSystem:
			p.info.CodeSystems++
		}
	}
}

// walkTgz calls fn for every regular file of the archive under package/,
// with its path relative to package/ and its content.
func walkTgz(p string, fn func(rel string, data []byte) error) error {
	f, err := os.Open(p)
	if err != nil {
		return fmt.Errorf("FHIR package: %w", err)
	}
	defer f.Close()
	gz, err := gzip.NewReader(bufio.NewReaderSize(f, 1<<20))
	if err != nil {
		return fmt.Errorf("FHIR package %s: %w", p, err)
	}
	defer gz.Close()
	tr := tar.NewReader(gz)
	var buf bytes.Buffer
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("FHIR package %s: %w", p, err)
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		name := strings.TrimPrefix(path.Clean(strings.TrimPrefix(h.Name, "./")), "/")
		rel, ok := strings.CutPrefix(name, "package/")
		if !ok {
			continue
		}
		if rel != "package.json" && skipFile(rel) {
			continue
		}
		buf.Reset()
		if _, err := io.Copy(&buf, tr); err != nil {
			return fmt.Errorf("FHIR package %s: %s: %w", p, h.Name, err)
		}
		if err := fn(rel, buf.Bytes()); err != nil {
			return err
		}
	}
}

// buildTgz reads a .tgz package and indexes it. When cachePath is set, the
// indexed resources go to a new cache file, which the entries then read
// from; otherwise they stay in memory.
func buildTgz(p, cachePath string) (*pkg, io.Closer, error) {
	var out *os.File
	var w *bufio.Writer
	if cachePath != "" {
		if err := os.MkdirAll(filepath.Dir(cachePath), 0o755); err == nil {
			if f, err := os.CreateTemp(filepath.Dir(cachePath), ".tmp-*.idx"); err == nil {
				out, w = f, bufio.NewWriterSize(f, 1<<20)
			}
		}
	}
	var (
		pjRaw    []byte
		examples int
		ces      []cacheEntry
		mem      [][]byte
		off      int64
	)
	err := walkTgz(p, func(rel string, data []byte) error {
		if rel == "package.json" {
			pjRaw = bytes.Clone(data)
			return nil
		}
		h, err := scanHeader(data)
		if err != nil {
			return nil // not a resource: tooling files some packages carry
		}
		if isExample(rel, h.ResourceType) {
			examples++
		}
		if !indexedType(h.ResourceType) {
			return nil
		}
		// stored as is: compacting 70 MB of JSON costs more than the
		// few percent of space it saves
		body := trimBOM(data)
		ce := cacheEntry{RT: h.ResourceType, ID: h.ID, URL: h.URL, Version: h.Version, Name: h.Name, Kind: h.Kind, Type: h.Type, Off: off, Len: int64(len(body))}
		if w != nil {
			if _, err := w.Write(body); err != nil {
				return fmt.Errorf("write package cache: %w", err)
			}
		} else {
			mem = append(mem, bytes.Clone(body))
		}
		off += ce.Len
		ces = append(ces, ce)
		return nil
	})
	if err == nil && pjRaw == nil {
		err = fmt.Errorf("FHIR package %s: no package/package.json", p)
	}
	var pj packageJSON
	if err == nil {
		pj, err = parsePackageJSON(pjRaw, p)
	}
	if err != nil {
		if out != nil {
			out.Close()
			os.Remove(out.Name())
		}
		return nil, nil, err
	}
	pk := &pkg{info: pj.info(p), tgz: p}
	pk.info.Examples = examples
	id := pk.info.ID()
	if out != nil {
		if f, err := finishCache(out, w, off, pjRaw, examples, ces, cachePath); err == nil {
			for _, ce := range ces {
				pk.entries = append(pk.entries, &Entry{
					ResourceType: ce.RT, ID: ce.ID, URL: ce.URL, Version: ce.Version, Name: ce.Name,
					Kind: ce.Kind, Type: ce.Type, Package: id,
					src: sectionSource{f: f, off: ce.Off, n: ce.Len},
				})
			}
			pk.count()
			return pk, f, nil
		}
		// The cache could not be written: read the archive again into
		// memory rather than fail.
		return buildTgz(p, "")
	}
	for i, ce := range ces {
		pk.entries = append(pk.entries, &Entry{
			ResourceType: ce.RT, ID: ce.ID, URL: ce.URL, Version: ce.Version, Name: ce.Name,
			Kind: ce.Kind, Type: ce.Type, Package: id, src: memSource(mem[i]),
		})
	}
	pk.count()
	return pk, nil, nil
}

// finishCache writes the index and trailer, moves the file into place and
// reopens it for reading.
func finishCache(out *os.File, w *bufio.Writer, idxOff int64, pjRaw []byte, examples int, ces []cacheEntry, cachePath string) (*os.File, error) {
	fail := func(err error) (*os.File, error) {
		out.Close()
		os.Remove(out.Name())
		return nil, err
	}
	idx, err := json.Marshal(cacheIndex{Package: json.RawMessage(compactJSON(pjRaw)), Examples: examples, Entries: ces})
	if err != nil {
		return fail(err)
	}
	if _, err := w.Write(idx); err != nil {
		return fail(err)
	}
	var trailer [16]byte
	binary.LittleEndian.PutUint64(trailer[:8], uint64(idxOff))
	copy(trailer[8:], cacheMagic)
	if _, err := w.Write(trailer[:]); err != nil {
		return fail(err)
	}
	if err := w.Flush(); err != nil {
		return fail(err)
	}
	if err := out.Close(); err != nil {
		return fail(err)
	}
	if err := os.Rename(out.Name(), cachePath); err != nil {
		os.Remove(out.Name())
		return nil, err
	}
	return os.Open(cachePath)
}

func compactJSON(b []byte) []byte {
	var buf bytes.Buffer
	if err := json.Compact(&buf, trimBOM(b)); err != nil {
		return trimBOM(b)
	}
	return buf.Bytes()
}

// loadFolder indexes an unpacked package. The package's .index.json, when
// present, says which files hold which resources, so only those are read
// (lazily); without it every JSON file's header is scanned.
func loadFolder(dir string) (*pkg, error) {
	root := packageRoot(dir)
	if root == "" {
		return nil, fmt.Errorf("FHIR package %s: no package.json", dir)
	}
	b, err := os.ReadFile(filepath.Join(root, "package.json"))
	if err != nil {
		return nil, fmt.Errorf("FHIR package %s: %w", dir, err)
	}
	pj, err := parsePackageJSON(b, dir)
	if err != nil {
		return nil, err
	}
	pk := &pkg{info: pj.info(dir), root: root}
	id := pk.info.ID()
	if ib, err := os.ReadFile(filepath.Join(root, ".index.json")); err == nil {
		var idx struct {
			Files []struct {
				Filename     string `json:"filename"`
				ResourceType string `json:"resourceType"`
				ID           string `json:"id"`
				URL          string `json:"url"`
				Version      string `json:"version"`
				Kind         string `json:"kind"`
				Type         string `json:"type"`
			} `json:"files"`
		}
		if err := json.Unmarshal(trimBOM(ib), &idx); err == nil && len(idx.Files) > 0 {
			for _, f := range idx.Files {
				if strings.HasPrefix(f.Filename, "._") || strings.ContainsAny(f.Filename, `/\`) {
					continue
				}
				if !indexedType(f.ResourceType) {
					if isExample(f.Filename, f.ResourceType) {
						pk.info.Examples++
					}
					continue
				}
				pk.entries = append(pk.entries, &Entry{
					ResourceType: f.ResourceType, ID: f.ID, URL: f.URL, Version: f.Version,
					Kind: f.Kind, Type: f.Type, Package: id,
					src: fileSource(filepath.Join(root, f.Filename)),
				})
			}
			// Examples in example/ are not in the top-level index.
			if ents, err := os.ReadDir(filepath.Join(root, "example")); err == nil {
				for _, e := range ents {
					if !e.IsDir() && !skipFile("example/"+e.Name()) {
						pk.info.Examples++
					}
				}
			}
			pk.count()
			return pk, nil
		}
	}
	err = walkFolder(root, func(rel string, data []byte) error {
		h, err := scanHeader(data)
		if err != nil {
			return nil
		}
		if isExample(rel, h.ResourceType) {
			pk.info.Examples++
		}
		if indexedType(h.ResourceType) {
			pk.entries = append(pk.entries, &Entry{
				ResourceType: h.ResourceType, ID: h.ID, URL: h.URL, Version: h.Version, Name: h.Name,
				Kind: h.Kind, Type: h.Type, Package: id,
				src: fileSource(filepath.Join(root, filepath.FromSlash(rel))),
			})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	pk.count()
	return pk, nil
}

// walkFolder calls fn for every resource file of an unpacked package, with
// its slash-separated path relative to the package root.
func walkFolder(root string, fn func(rel string, data []byte) error) error {
	return filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			if strings.HasPrefix(d.Name(), "._") {
				return filepath.SkipDir
			}
			return nil
		}
		if skipFile(rel) {
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return fmt.Errorf("FHIR package: %w", err)
		}
		return fn(rel, trimBOM(data))
	})
}

// Example is one example resource of a package.
type Example struct {
	// File is the resource's path inside the package ("example/X.json").
	File string
	Raw  []byte
}

// WalkExamples calls fn for each example resource of the loaded package
// with the given name (or name#version), in archive or directory order. The
// examples are read from the package itself, not the index.
func (r *Registry) WalkExamples(pkgID string, fn func(Example) error) error {
	var p *pkg
	for _, c := range r.pkgs {
		if c.info.Name == pkgID || c.info.ID() == pkgID {
			p = c
			break
		}
	}
	if p == nil {
		return fmt.Errorf("package %s is not loaded", pkgID)
	}
	visit := func(rel string, data []byte) error {
		if rel == "package.json" {
			return nil
		}
		h, err := scanHeader(data)
		if err != nil || !isExample(rel, h.ResourceType) {
			return nil
		}
		return fn(Example{File: rel, Raw: bytes.Clone(data)})
	}
	if p.tgz != "" {
		return walkTgz(p.tgz, visit)
	}
	return walkFolder(p.root, visit)
}
