package framework

import (
	"encoding/json"

	"github.com/pdex-conform/pdex-conform/validators/compartment"
)

// NoCompartment begins the reason of every spec skipped because the
// Patient compartment definition is not loaded (the runner's tables allow
// those skips in runs without FHIR packages).
const NoCompartment = "the patient compartment is not known"

// place reads an exported line's identity and the patients whose
// compartments hold it. Without the compartment definition only the
// identity is read: no spec judges patients then (they skip, saying why).
func (e *Env) place(raw []byte) (compartment.Placement, error) {
	if e.Compartment != nil {
		return e.Compartment.Place(raw)
	}
	var h struct {
		ResourceType string `json:"resourceType"`
		ID           string `json:"id"`
		Meta         struct {
			LastUpdated string `json:"lastUpdated"`
		} `json:"meta"`
	}
	if err := json.Unmarshal(raw, &h); err != nil {
		return compartment.Placement{}, err
	}
	return compartment.Placement{Type: h.ResourceType, ID: h.ID, LastUpdated: h.Meta.LastUpdated}, nil
}

// InCompartment reports whether a resource belongs to the compartment of
// one of the patients in set.
func (r Resource) InCompartment(set map[string]bool) bool {
	for _, p := range r.Patients {
		if set[p] {
			return true
		}
	}
	return false
}
