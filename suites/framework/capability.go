package framework

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/pdex-conform/pdex-conform/client/bulk"
)

// Capability is what the harness reads of the target's CapabilityStatement
// (GET /metadata): what the server says it is, for the report's Run section
// and for the edition and operation it implements.
type Capability struct {
	Raw          []byte `json:"-"`
	ResourceType string `json:"resourceType"`
	FHIRVersion  string `json:"fhirVersion"`
	Software     struct {
		Name        string `json:"name"`
		Version     string `json:"version"`
		ReleaseDate string `json:"releaseDate"`
	} `json:"software"`
	Implementation struct {
		Description string `json:"description"`
		URL         string `json:"url"`
	} `json:"implementation"`
	Instantiates        []string `json:"instantiates"`
	ImplementationGuide []string `json:"implementationGuide"`
	Rest                []struct {
		Mode     string               `json:"mode"`
		Resource []CapabilityResource `json:"resource"`
	} `json:"rest"`
}

// CapabilityResource is one rest.resource entry.
type CapabilityResource struct {
	Type        string `json:"type"`
	Interaction []struct {
		Code string `json:"code"`
	} `json:"interaction"`
	SearchParam []struct {
		Name string `json:"name"`
		Type string `json:"type"`
	} `json:"searchParam"`
	Operation []struct {
		Name       string `json:"name"`
		Definition string `json:"definition"`
	} `json:"operation"`
}

// ParseCapability reads a CapabilityStatement.
func ParseCapability(raw []byte) (*Capability, error) {
	var c Capability
	if err := json.Unmarshal(raw, &c); err != nil {
		return nil, fmt.Errorf("the CapabilityStatement is not JSON: %s", OutcomeText(raw))
	}
	if c.ResourceType != "CapabilityStatement" {
		return nil, fmt.Errorf("GET /metadata answered a %s, not a CapabilityStatement", cmp.Or(c.ResourceType, "JSON object without resourceType"))
	}
	c.Raw = raw
	return &c, nil
}

// ReadCapability GETs /metadata. resp is returned whenever an answer came.
func ReadCapability(ctx context.Context, c *bulk.Client) (*Capability, *bulk.Response, error) {
	resp, err := c.Do(ctx, bulk.Request{Method: http.MethodGet, URL: "metadata"})
	if err != nil {
		return nil, nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, resp, fmt.Errorf("GET /metadata answered HTTP %d: %s", resp.StatusCode, OutcomeText(resp.Body))
	}
	cs, err := ParseCapability(resp.Body)
	return cs, resp, err
}

// Server returns the rest entry of a resource type in server mode.
func (c *Capability) Server(typ string) (CapabilityResource, bool) {
	if c == nil {
		return CapabilityResource{}, false
	}
	for _, r := range c.Rest {
		if r.Mode != "server" {
			continue
		}
		for _, res := range r.Resource {
			if res.Type == typ {
				return res, true
			}
		}
	}
	return CapabilityResource{}, false
}

// GroupOperations lists the operation names the server declares on Group.
func (c *Capability) GroupOperations() []string {
	g, _ := c.Server("Group")
	var out []string
	for _, o := range g.Operation {
		out = append(out, o.Name)
	}
	return out
}

// DeclaresGroupOperation reports whether Group declares the operation (its
// name with or without the leading $).
func (c *Capability) DeclaresGroupOperation(op string) bool {
	op = strings.TrimPrefix(op, "$")
	for _, name := range c.GroupOperations() {
		if strings.TrimPrefix(name, "$") == op {
			return true
		}
	}
	return false
}

// SoftwareText names the server's software and version as it declares them.
func (c *Capability) SoftwareText() string {
	if c == nil {
		return ""
	}
	s := strings.TrimSpace(c.Software.Name + " " + c.Software.Version)
	if s == "" {
		s = c.Implementation.Description
	}
	return s
}
