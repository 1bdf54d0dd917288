package suites

import (
	"context"
	"net/http"
	"slices"
	"strings"

	. "github.com/onsi/ginkgo/v2"

	"github.com/pdex-conform/pdex-conform/client/bulk"
	"github.com/pdex-conform/pdex-conform/suites/framework"
)

// exportOperation is the canonical of the operation PDex names (SPEC §2).
const exportOperation = "http://hl7.org/fhir/us/davinci-atr/OperationDefinition/davinci-data-export"

// capability is what the specs read of a CapabilityStatement.
type capability struct {
	ResourceType string `json:"resourceType"`
	FHIRVersion  string `json:"fhirVersion"`
	Rest         []struct {
		Mode     string               `json:"mode"`
		Resource []capabilityResource `json:"resource"`
	} `json:"rest"`
}

type capabilityResource struct {
	Type        string `json:"type"`
	Interaction []struct {
		Code string `json:"code"`
	} `json:"interaction"`
	SearchParam []struct {
		Name string `json:"name"`
		Type string `json:"type"`
	} `json:"searchParam"`
	Operation []capabilityOperation `json:"operation"`
}

type capabilityOperation struct {
	Name       string `json:"name"`
	Definition string `json:"definition"`
}

// readCapability GETs /metadata and returns the server-mode Group entry;
// it fails the spec when there is none.
func readCapability(ctx context.Context, e *framework.Env) capabilityResource {
	// /metadata is public in FHIR; a server that protects it still answers
	// the authorized client.
	resp, err := e.Client().Do(ctx, framework.Get("metadata"))
	framework.NoError(err, "Sending GET /metadata")
	framework.Checkf(resp.StatusCode == http.StatusOK, "GET /metadata was answered HTTP %d, not 200: %s", resp.StatusCode, framework.OutcomeText(resp.Body))
	var cs capability
	framework.Checkf(jsonUnmarshal(resp.Body, &cs) == nil, "GET /metadata did not answer JSON: %s", framework.OutcomeText(resp.Body))
	framework.Checkf(cs.ResourceType == "CapabilityStatement", "GET /metadata answered a %q, not a CapabilityStatement", cs.ResourceType)
	framework.Checkf(strings.HasPrefix(cs.FHIRVersion, "4.0"), "The CapabilityStatement declares fhirVersion %q; the Provider Access API is FHIR R4 (4.0.x)", cs.FHIRVersion)
	for _, r := range cs.Rest {
		if r.Mode != "server" {
			continue
		}
		for _, res := range r.Resource {
			if res.Type == "Group" {
				return res
			}
		}
	}
	framework.Failf("the CapabilityStatement declares no Group resource in rest.mode = server")
	return capabilityResource{}
}

func registerDiscovery(e *framework.Env) {
	Describe("Discovery", func() {
		// FHIR R4 (http.html, capabilities): the CapabilityStatement says
		// which interactions and search parameters the server supports.
		// PDex 2.1.0 on (§pdex-350) requires Group read, search-type and
		// the identifier and characteristic searches; in 2.0.0, Bulk Data's
		// "SHOULD support reading and searching for Group" (the catalog's
		// level per edition).
		It("declares Group read and search-type with the identifier and characteristic parameters", e.Req("PA-CAP-01"), func(ctx SpecContext) {
			g := readCapability(ctx, e)
			var codes []string
			for _, i := range g.Interaction {
				codes = append(codes, i.Code)
			}
			framework.Checkf(slices.Contains(codes, "read") && slices.Contains(codes, "search-type"),
				"The CapabilityStatement must declare the Group interactions read and search-type; it declares %s", strings.Join(codes, ", "))
			params := map[string]string{}
			for _, p := range g.SearchParam {
				params[p.Name] = p.Type
			}
			for _, name := range []string{"identifier", "characteristic"} {
				framework.Checkf(params[name] == "token", "The CapabilityStatement must declare the Group token search parameter %s; it declares it as %q", name, params[name])
			}
		})

		// PDex uses ATR's davinci-data-export operation; a server that
		// offers it declares it on Group with that definition (FHIR R4
		// CapabilityStatement.rest.resource.operation).
		It("declares the davinci-data-export operation on Group", e.Req("PA-CAP-02"), func(ctx SpecContext) {
			g := readCapability(ctx, e)
			found := slices.ContainsFunc(g.Operation, func(o capabilityOperation) bool {
				// The definition may carry a version (canonical|version).
				return o.Name == "davinci-data-export" && canonicalBase(o.Definition) == exportOperation
			})
			var have []string
			for _, o := range g.Operation {
				have = append(have, o.Name+" ("+o.Definition+")")
			}
			framework.Checkf(found, "The CapabilityStatement's Group must declare the operation davinci-data-export with definition %s; it declares %d operations: %s", exportOperation, len(have), strings.Join(have, ", "))
		})

		// SMART App Launch 2.x, Discovery: the server conveys its
		// configuration at .well-known/smart-configuration, readable without
		// a token, with token_endpoint, the private_key_jwt method, RS384 or
		// ES384 and the client-confidential-asymmetric capability that
		// Backend Services use.
		It("publishes a SMART configuration for Backend Services", e.Req("PA-SMART-01"), func(ctx SpecContext) {
			resp, err := e.AnonymousClient().Do(ctx, bulk.Request{
				Method: http.MethodGet, URL: ".well-known/smart-configuration",
				Header: http.Header{"Accept": {"application/json"}},
			})
			framework.NoError(err, "Sending GET .well-known/smart-configuration")
			framework.Checkf(resp.StatusCode == http.StatusOK, "GET .well-known/smart-configuration without a token was answered HTTP %d, not 200: %s", resp.StatusCode, framework.OutcomeText(resp.Body))
			var sc struct {
				TokenEndpoint   string   `json:"token_endpoint"`
				AuthMethods     []string `json:"token_endpoint_auth_methods_supported"`
				SigningAlgs     []string `json:"token_endpoint_auth_signing_alg_values_supported"`
				ScopesSupported []string `json:"scopes_supported"`
				Capabilities    []string `json:"capabilities"`
			}
			framework.Checkf(jsonUnmarshal(resp.Body, &sc) == nil, "The SMART configuration is not a JSON object: %s", framework.OutcomeText(resp.Body))
			framework.Checkf(sc.TokenEndpoint != "", "The SMART configuration has no token_endpoint, which SMART requires")
			framework.Checkf(isAbsoluteURL(sc.TokenEndpoint), "The SMART configuration's token_endpoint %q is not an absolute URL", sc.TokenEndpoint)
			framework.Checkf(slices.Contains(sc.AuthMethods, "private_key_jwt"), "The SMART configuration's token_endpoint_auth_methods_supported (%s) does not include private_key_jwt", strings.Join(sc.AuthMethods, ", "))
			framework.Checkf(slices.Contains(sc.SigningAlgs, "RS384") || slices.Contains(sc.SigningAlgs, "ES384"), "The SMART configuration's token_endpoint_auth_signing_alg_values_supported (%s) has neither RS384 nor ES384", strings.Join(sc.SigningAlgs, ", "))
			framework.Checkf(len(sc.ScopesSupported) > 0, "The SMART configuration has no scopes_supported, which SMART requires")
			framework.Checkf(slices.Contains(sc.Capabilities, "client-confidential-asymmetric"), "The SMART configuration's capabilities (%s) do not include client-confidential-asymmetric", strings.Join(sc.Capabilities, ", "))
		})
	})
}
