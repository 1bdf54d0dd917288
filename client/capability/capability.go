// Package capability reads a FHIR server's CapabilityStatement (GET
// [base]/metadata, FHIR R4 http.html#capabilities): what a run learns of the
// target before any spec runs, such as the PDex edition it declares
// (instantiates, implementationGuide) and the software it names.
package capability

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/pdex-conform/pdex-conform/client/bulk"
)

// Statement is what a run reads of a CapabilityStatement.
type Statement struct {
	FHIRVersion string `json:"fhirVersion"`
	// Instantiates and ImplementationGuide are canonical references,
	// possibly with |version.
	Instantiates        []string `json:"instantiates"`
	ImplementationGuide []string `json:"implementationGuide"`
	Software            Software `json:"software"`
}

// Software is CapabilityStatement.software.
type Software struct {
	Name        string `json:"name"`
	Version     string `json:"version"`
	ReleaseDate string `json:"releaseDate"`
}

// Read GETs [base]/metadata with c (which records the exchange when it is
// set up to) and parses the CapabilityStatement. The client's token is sent
// when it has one: FHIR leaves /metadata open, but a server that protects it
// still answers an authorized client.
func Read(ctx context.Context, c *bulk.Client) (*Statement, error) {
	resp, err := c.Do(ctx, bulk.Request{
		Method: http.MethodGet, URL: "metadata",
		Header: http.Header{"Accept": {"application/fhir+json"}},
	})
	if err != nil {
		return nil, fmt.Errorf("GET metadata: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET metadata answered HTTP %d", resp.StatusCode)
	}
	return Parse(resp.Body)
}

// Parse reads a CapabilityStatement's JSON.
func Parse(body []byte) (*Statement, error) {
	var cs struct {
		ResourceType string `json:"resourceType"`
		Statement
	}
	if err := json.Unmarshal(body, &cs); err != nil {
		return nil, fmt.Errorf("GET metadata did not answer JSON: %w", err)
	}
	if cs.ResourceType != "CapabilityStatement" {
		return nil, fmt.Errorf("GET metadata answered a %q, not a CapabilityStatement", cs.ResourceType)
	}
	return &cs.Statement, nil
}
