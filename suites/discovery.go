package suites

import (
	"context"
	"net/http"
	"slices"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

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
	Expect(err).NotTo(HaveOccurred())
	Expect(resp.StatusCode).To(Equal(http.StatusOK), "GET /metadata: %s", framework.OutcomeText(resp.Body))
	var cs capability
	Expect(jsonUnmarshal(resp.Body, &cs)).To(Succeed(), "GET /metadata must answer JSON")
	Expect(cs.ResourceType).To(Equal("CapabilityStatement"))
	Expect(cs.FHIRVersion).To(HavePrefix("4.0"), "the Provider Access API is FHIR R4")
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
	Fail("the CapabilityStatement declares no Group resource in rest.mode = server")
	return capabilityResource{}
}

func registerDiscovery(e *framework.Env) {
	Describe("Discovery", func() {
		It("declares Group read and search-type with the identifier and characteristic parameters", e.Req("PA-CAP-01"), func(ctx SpecContext) {
			g := readCapability(ctx, e)
			var codes []string
			for _, i := range g.Interaction {
				codes = append(codes, i.Code)
			}
			Expect(codes).To(ContainElements("read", "search-type"), "Group must declare the interactions read and search-type (§pdex-350); it declares %v", codes)
			params := map[string]string{}
			for _, p := range g.SearchParam {
				params[p.Name] = p.Type
			}
			for _, name := range []string{"identifier", "characteristic"} {
				Expect(params).To(HaveKeyWithValue(name, "token"), "Group must declare the token search parameter %s (§pdex-350)", name)
			}
		})

		It("declares the davinci-data-export operation on Group", e.Req("PA-CAP-02"), func(ctx SpecContext) {
			g := readCapability(ctx, e)
			found := slices.ContainsFunc(g.Operation, func(o capabilityOperation) bool {
				// The definition may carry a version (canonical|version).
				return o.Name == "davinci-data-export" && canonicalBase(o.Definition) == exportOperation
			})
			Expect(found).To(BeTrue(), "Group.operation must hold davinci-data-export with definition %s; have %v", exportOperation, g.Operation)
		})

		It("publishes a SMART configuration for Backend Services", e.Req("PA-SMART-01"), func(ctx SpecContext) {
			resp, err := e.AnonymousClient().Do(ctx, bulk.Request{
				Method: http.MethodGet, URL: ".well-known/smart-configuration",
				Header: http.Header{"Accept": {"application/json"}},
			})
			Expect(err).NotTo(HaveOccurred())
			Expect(resp.StatusCode).To(Equal(http.StatusOK), "GET .well-known/smart-configuration must answer without a token")
			var sc struct {
				TokenEndpoint   string   `json:"token_endpoint"`
				AuthMethods     []string `json:"token_endpoint_auth_methods_supported"`
				SigningAlgs     []string `json:"token_endpoint_auth_signing_alg_values_supported"`
				ScopesSupported []string `json:"scopes_supported"`
				Capabilities    []string `json:"capabilities"`
			}
			Expect(jsonUnmarshal(resp.Body, &sc)).To(Succeed(), "the SMART configuration is a JSON object")
			Expect(sc.TokenEndpoint).NotTo(BeEmpty(), "token_endpoint is required")
			Expect(isAbsoluteURL(sc.TokenEndpoint)).To(BeTrue(), "token_endpoint %q must be an absolute URL", sc.TokenEndpoint)
			Expect(sc.AuthMethods).To(ContainElement("private_key_jwt"), "token_endpoint_auth_methods_supported must include private_key_jwt")
			Expect(sc.SigningAlgs).To(ContainElement(BeElementOf("RS384", "ES384")), "token_endpoint_auth_signing_alg_values_supported needs RS384 or ES384")
			Expect(sc.ScopesSupported).NotTo(BeEmpty(), "scopes_supported is required")
			Expect(sc.Capabilities).To(ContainElement("client-confidential-asymmetric"), "capabilities must include client-confidential-asymmetric")
		})
	})
}
