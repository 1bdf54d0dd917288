package packages

import (
	"archive/tar"
	"compress/gzip"
	"context"
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
		return "", fmt.Errorf("install %s#%s: %w", name, version, err)
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
