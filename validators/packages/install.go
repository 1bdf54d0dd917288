package packages

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// DefaultRegistry is the FHIR package registry (not a registry of code
// modules: it serves FHIR NPM packages at {registry}/{name}/{version}).
const DefaultRegistry = "https://packages.fhir.org"

// maxPackageBytes bounds what Install unpacks, against a hostile or broken
// registry: the largest official packages are a few hundred megabytes.
const maxPackageBytes = 2 << 30

// Install downloads the package NAME#VERSION from a FHIR package registry
// and unpacks it into cacheDir/NAME#VERSION/ (the layout of
// ~/.fhir/packages, which an empty cacheDir means). It returns that folder.
// A package already there is not downloaded again.
func Install(ctx context.Context, hc *http.Client, registryURL, nameAtVersion, cacheDir string) (string, error) {
	name, version, err := splitPackageID(nameAtVersion)
	if err != nil {
		return "", err
	}
	if cacheDir == "" {
		cacheDir = StandardCacheDir()
		if cacheDir == "" {
			return "", errors.New("install FHIR package: no cache folder: the home directory is unknown")
		}
	}
	if registryURL == "" {
		registryURL = DefaultRegistry
	}
	dest := filepath.Join(cacheDir, name+"#"+version)
	if packageRoot(dest) != "" {
		return dest, nil
	}
	if hc == nil {
		hc = http.DefaultClient
	}
	u := strings.TrimSuffix(registryURL, "/") + "/" + url.PathEscape(name) + "/" + url.PathEscape(version)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return "", fmt.Errorf("install %s#%s: %w", name, version, err)
	}
	req.Header.Set("Accept", "application/tar+gzip, application/gzip, application/octet-stream")
	resp, err := hc.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return "", fmt.Errorf("install %s#%s: %w", name, version, ctx.Err())
		}
		return "", &UnreachableError{Registry: registryURL, Err: err}
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("install %s#%s: GET %s: %s", name, version, u, resp.Status)
	}
	if err := os.MkdirAll(cacheDir, 0o755); err != nil {
		return "", fmt.Errorf("install %s#%s: %w", name, version, err)
	}
	tmp, err := os.MkdirTemp(cacheDir, ".install-*")
	if err != nil {
		return "", fmt.Errorf("install %s#%s: %w", name, version, err)
	}
	defer os.RemoveAll(tmp)
	if err := unpack(io.LimitReader(resp.Body, maxPackageBytes), tmp); err != nil {
		return "", fmt.Errorf("install %s#%s: unpack %s: %w", name, version, u, err)
	}
	b, err := os.ReadFile(filepath.Join(tmp, "package", "package.json"))
	if err != nil {
		return "", fmt.Errorf("install %s#%s: the download from %s holds no package/package.json", name, version, u)
	}
	pj, err := parsePackageJSON(b, u)
	if err != nil {
		return "", fmt.Errorf("install %s#%s: %w", name, version, err)
	}
	if pj.Name != name || pj.Version != version {
		return "", fmt.Errorf("install %s#%s: the registry sent %s#%s", name, version, pj.Name, pj.Version)
	}
	if err := os.Rename(tmp, dest); err != nil {
		if packageRoot(dest) != "" {
			return dest, nil // installed concurrently by another process
		}
		return "", fmt.Errorf("install %s#%s: %w", name, version, err)
	}
	return dest, nil
}

// UnreachableError says the package registry could not be reached at all
// (no answer, as opposed to an answer refusing the package).
type UnreachableError struct {
	Registry string
	Err      error
}

func (e *UnreachableError) Error() string {
	return fmt.Sprintf("cannot reach the FHIR package registry %s: %v", e.Registry, e.Err)
}

func (e *UnreachableError) Unwrap() error { return e.Err }

// Installed is one package InstallAll installed or found in the cache.
type Installed struct {
	ID  string // name#version
	Dir string
	// Cached is true when the package was already there.
	Cached bool
	// For names the package that depends on it ("" for those asked for).
	For string
}

// InstallAll installs each NAME#VERSION and, as the FHIR tooling does, the
// dependencies its package.json names, recursively, into cacheDir (each
// package once, whatever depends on it). It calls done for each package as
// it is installed or found. A dependency that cannot be installed does not
// stop the others: the error lists every one that failed. An unreachable
// registry stops at once, with an *UnreachableError.
func InstallAll(ctx context.Context, hc *http.Client, registryURL string, ids []string, cacheDir string, done func(Installed)) error {
	type want struct{ id, by string }
	queue := make([]want, 0, len(ids))
	for _, id := range ids {
		queue = append(queue, want{id, ""})
	}
	seen := map[string]bool{}
	var failed []error
	for len(queue) > 0 {
		w := queue[0]
		queue = queue[1:]
		name, version, err := splitPackageID(w.id)
		if err != nil {
			failed = append(failed, err)
			continue
		}
		if isRange(version) {
			v, err := resolveVersion(ctx, hc, registryURL, name, version)
			if err != nil {
				var ue *UnreachableError
				if errors.As(err, &ue) {
					return err
				}
				failed = append(failed, fmt.Errorf("%s#%s (needed by %s): %w", name, version, w.by, err))
				continue
			}
			version = v
		}
		id := name + "#" + version
		if seen[id] {
			continue
		}
		seen[id] = true
		cached := packageRoot(filepath.Join(cacheDirOr(cacheDir), id)) != ""
		dir, err := Install(ctx, hc, registryURL, id, cacheDir)
		if err != nil {
			var ue *UnreachableError
			if errors.As(err, &ue) || ctx.Err() != nil {
				return err
			}
			if w.by != "" {
				err = fmt.Errorf("%w (needed by %s)", err, w.by)
			}
			failed = append(failed, err)
			continue
		}
		if done != nil {
			done(Installed{ID: id, Dir: dir, Cached: cached, For: w.by})
		}
		b, err := os.ReadFile(filepath.Join(packageRoot(dir), "package.json"))
		if err != nil {
			failed = append(failed, fmt.Errorf("install %s: %w", id, err))
			continue
		}
		pj, err := parsePackageJSON(b, dir)
		if err != nil {
			failed = append(failed, err)
			continue
		}
		for _, d := range pj.info(dir).Dependencies {
			queue = append(queue, want{d.Name + "#" + d.Version, id})
		}
	}
	return errors.Join(failed...)
}

func cacheDirOr(dir string) string {
	if dir == "" {
		return StandardCacheDir()
	}
	return dir
}

// isRange reports whether a dependency version names a range the registry
// must resolve ("1.0.x", "latest") rather than one version.
func isRange(v string) bool {
	return v == "latest" || strings.HasSuffix(v, ".x") || v == "x"
}

// resolveVersion picks the highest version a registry has of a package
// that matches a range, from the package's registry document
// ({registry}/{name}: "versions" and "dist-tags", as npm registries serve).
func resolveVersion(ctx context.Context, hc *http.Client, registryURL, name, rng string) (string, error) {
	if registryURL == "" {
		registryURL = DefaultRegistry
	}
	if hc == nil {
		hc = http.DefaultClient
	}
	u := strings.TrimSuffix(registryURL, "/") + "/" + url.PathEscape(name)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return "", err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		return "", &UnreachableError{Registry: registryURL, Err: err}
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("GET %s: %s", u, resp.Status)
	}
	var doc struct {
		Versions map[string]json.RawMessage `json:"versions"`
		DistTags map[string]string          `json:"dist-tags"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 16<<20)).Decode(&doc); err != nil {
		return "", fmt.Errorf("GET %s: %w", u, err)
	}
	if rng == "latest" {
		if v := doc.DistTags["latest"]; v != "" {
			return v, nil
		}
	}
	best := ""
	for v := range doc.Versions {
		if (rng == "latest" || rng == "x" || versionMatches(rng, v)) && !strings.Contains(v, "-") && (best == "" || compareVersions(v, best) > 0) {
			best = v
		}
	}
	if best == "" {
		return "", fmt.Errorf("no version of %s matches %s", name, rng)
	}
	return best, nil
}

// splitPackageID splits NAME#VERSION (NAME@VERSION is accepted too).
func splitPackageID(s string) (string, string, error) {
	name, version, ok := strings.Cut(s, "#")
	if !ok {
		name, version, ok = strings.Cut(s, "@")
	}
	if !ok || name == "" || version == "" {
		return "", "", fmt.Errorf("install FHIR package: %q is not NAME#VERSION", s)
	}
	for _, part := range []string{name, version} {
		for _, c := range part {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-' || c == '_') {
				return "", "", fmt.Errorf("install FHIR package: %q: unexpected character %q", s, c)
			}
		}
	}
	if name == "." || name == ".." || version == "." || version == ".." {
		return "", "", fmt.Errorf("install FHIR package: %q is not NAME#VERSION", s)
	}
	return name, version, nil
}

// unpack extracts a .tgz stream into dir, refusing entries that would land
// outside it and skipping macOS metadata files.
func unpack(r io.Reader, dir string) error {
	gz, err := gzip.NewReader(r)
	if err != nil {
		return err
	}
	defer gz.Close()
	tr := tar.NewReader(gz)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		name := path.Clean(strings.TrimPrefix(h.Name, "./"))
		if name == "." {
			continue
		}
		if path.IsAbs(name) || name == ".." || strings.HasPrefix(name, "../") {
			return fmt.Errorf("unsafe path %q in archive", h.Name)
		}
		if strings.HasPrefix(path.Base(name), "._") {
			continue
		}
		target := filepath.Join(dir, filepath.FromSlash(name))
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(target, 0o755); err != nil {
				return err
			}
		case tar.TypeReg:
			if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
				return err
			}
			f, err := os.OpenFile(target, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
			if err != nil {
				return err
			}
			_, err = io.Copy(f, tr)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return err
			}
		}
		// Links and devices are not part of FHIR packages; skip them.
	}
}
