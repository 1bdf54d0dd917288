package smart

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// maxDiscovery bounds the smart-configuration document read; a real one is
// a few kilobytes.
const maxDiscovery = 1 << 20

// DiscoverTokenURL reads token_endpoint from the FHIR server's
// .well-known/smart-configuration (SMART App Launch 2.x, Discovery).
func DiscoverTokenURL(ctx context.Context, hc *http.Client, base string) (string, error) {
	if hc == nil {
		hc = http.DefaultClient
	}
	u := strings.TrimRight(base, "/") + "/.well-known/smart-configuration"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return "", fmt.Errorf("discovering the token endpoint: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		return "", fmt.Errorf("discovering the token endpoint: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxDiscovery))
	if err != nil {
		return "", fmt.Errorf("discovering the token endpoint: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("discovering the token endpoint: %s answered HTTP %d (set auth.tokenUrl to skip discovery)", u, resp.StatusCode)
	}
	var sc struct {
		TokenEndpoint string `json:"token_endpoint"`
	}
	if err := json.Unmarshal(body, &sc); err != nil || sc.TokenEndpoint == "" {
		return "", fmt.Errorf("discovering the token endpoint: %s has no token_endpoint (set auth.tokenUrl)", u)
	}
	return sc.TokenEndpoint, nil
}
