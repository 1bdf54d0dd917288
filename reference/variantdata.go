package reference

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/pdex-conform/pdex-conform/fixtures"
)

// usCoreProfiles are the US Core 3.1.1 profiles the us-core-profiles
// variant claims instead of CARIN's (SPEC §6: "or US Core equivalents").
var usCoreProfiles = map[string]string{
	"Patient":      "http://hl7.org/fhir/us/core/StructureDefinition/us-core-patient|3.1.1",
	"Practitioner": "http://hl7.org/fhir/us/core/StructureDefinition/us-core-practitioner|3.1.1",
	"Organization": "http://hl7.org/fhir/us/core/StructureDefinition/us-core-organization|3.1.1",
}

// variantData returns the data set as the switched-on variants store it:
// the same set when none changes the data.
func (s *Server) variantData(d *fixtures.Dataset) (*fixtures.Dataset, error) {
	one, usCore := s.variants.has(VariantOneLastUpdated), s.variants.has(VariantUSCoreProfiles)
	if !one && !usCore {
		return d, nil
	}
	// One instant for all: the latest the set holds, so that nothing moves
	// into the future.
	var at time.Time
	for _, r := range d.Resources {
		if r.LastUpdated.After(at) {
			at = r.LastUpdated
		}
	}
	out := &fixtures.Dataset{Resources: make([]fixtures.Resource, len(d.Resources))}
	for i, r := range d.Resources {
		profile, reprofile := usCoreProfiles[r.Type]
		reprofile = reprofile && usCore
		if !one && !reprofile {
			out.Resources[i] = r
			continue
		}
		var res map[string]any
		if err := json.Unmarshal(r.JSON, &res); err != nil {
			return nil, fmt.Errorf("%s/%s: %w", r.Type, r.ID, err)
		}
		meta, _ := res["meta"].(map[string]any)
		if meta == nil {
			meta = map[string]any{}
			res["meta"] = meta
		}
		if one {
			meta["lastUpdated"] = at.UTC().Format(time.RFC3339)
			r.LastUpdated = at
		}
		if reprofile {
			meta["profile"] = []any{profile}
		}
		raw, err := json.Marshal(res)
		if err != nil {
			return nil, err
		}
		r.JSON = raw
		out.Resources[i] = r
	}
	return out, nil
}
