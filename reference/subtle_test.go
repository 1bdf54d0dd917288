package reference

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"time"
)

// Probes of the subtle faults: each checks the half of a behaviour that a
// one-directional check misses (every member, everything before _until,
// the other types of a filter, only the Groups that match).
var subtleProbes = map[string]probe{
	"full export covers every member": func(h *harness, f fixtureFacts) error {
		ex, err := h.runExport(exportRequest{params: standard("snapshot")})
		if err != nil {
			return err
		}
		got := ex.compartments(h.data)
		opted := optedOut(h.t, h.data)
		for _, m := range groupInfo(h.t, h.data, "group-01").Members {
			if !opted[m] && !got[m] {
				return fmt.Errorf("the full export holds nothing of the member Patient/%s", m)
			}
		}
		return nil
	},
	"full export carries each member's data": func(h *harness, f fixtureFacts) error {
		ex, err := h.runExport(exportRequest{params: standard("snapshot")})
		if err != nil {
			return err
		}
		if d := diff(ofType(ex, "Condition"), expected(h.t, h.data, selection{group: "group-01", types: []string{"Condition"}})); d != "" {
			return fmt.Errorf("the full export's Conditions: %s", d)
		}
		return nil
	},
	"_until keeps everything before": func(h *harness, f fixtureFacts) error {
		until := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
		ex, err := h.runExport(exportRequest{params: standard("snapshot", p("_until", "valueInstant", until.Format(time.RFC3339)))})
		if err != nil {
			return err
		}
		if d := diff(ex.keys(), expected(h.t, h.data, selection{group: "group-01", until: &until})); d != "" {
			return fmt.Errorf("_until=%s: %s", until.Format(time.RFC3339), d)
		}
		return nil
	},
	"last download replaced by a later one": func(h *harness, f fixtureFacts) error {
		var values []string
		for range 2 {
			if _, err := h.runExport(exportRequest{params: standard("download", patientParam(f.member), p("_type", "valueString", "Patient"))}); err != nil {
				return err
			}
			pat, err := h.readResource(TestClientID, "Patient", f.member)
			if err != nil {
				return err
			}
			got := lastDownloads(pat)
			if len(got) != 1 {
				return fmt.Errorf("Patient/%s has last-download values %v after a download", f.member, got)
			}
			values = append(values, got[0])
			time.Sleep(5 * time.Millisecond)
		}
		first, err1 := time.Parse(time.RFC3339Nano, values[0])
		second, err2 := time.Parse(time.RFC3339Nano, values[1])
		if err1 != nil || err2 != nil || !second.After(first) {
			return fmt.Errorf("Patient/%s recorded %s after the first download and %s after the second", f.member, values[0], values[1])
		}
		return nil
	},
	"download tracks the downloaded member only": func(h *harness, f fixtureFacts) error {
		before, err := h.readResource(TestClientID, "Patient", f.second)
		if err != nil {
			return err
		}
		if _, err := h.runExport(exportRequest{params: standard("download", patientParam(f.member), p("_type", "valueString", "Patient"))}); err != nil {
			return err
		}
		after, err := h.readResource(TestClientID, "Patient", f.second)
		if err != nil {
			return err
		}
		if !jsonEqual(before, after) {
			return fmt.Errorf("a download of Patient/%s changed Patient/%s: %v", f.member, f.second, after["extension"])
		}
		return nil
	},
	"_typeFilter leaves the other types": func(h *harness, f fixtureFacts) error {
		ex, err := h.runExport(exportRequest{params: standard("snapshot", patientParam(f.member),
			p("_type", "valueString", "Observation,Condition"), p("_typeFilter", "valueString", "Observation?category=laboratory"))})
		if err != nil {
			return err
		}
		got := ofType(ex, "Condition")
		want := expected(h.t, h.data, selection{group: "group-01", patients: []string{f.member}, types: []string{"Condition"}})
		if len(want) == 0 {
			return fmt.Errorf("Patient/%s has no Condition to keep", f.member)
		}
		if d := diff(got, want); d != "" {
			return fmt.Errorf("Conditions under a filter on Observation only: %s", d)
		}
		return nil
	},
	"Group search by identifier selects": func(h *harness, f fixtureFacts) error {
		return searchSelects(h, "identifier", groupInfo(h.t, h.data, "group-01").NPI)
	},
	"Group search by characteristic selects": func(h *harness, f fixtureFacts) error {
		g := stored(h.t, h.data, "Group", "group-01")
		chars, _ := g["characteristic"].([]any)
		c, _ := chars[0].(map[string]any)
		code, _ := c["code"].(map[string]any)
		codings, _ := code["coding"].([]any)
		cd, _ := codings[0].(map[string]any)
		return searchSelects(h, "characteristic", fmt.Sprintf("%v|%v", cd["system"], cd["code"]))
	},
	"non-member ignored, member kept": func(h *harness, f fixtureFacts) error {
		ex, err := h.runExport(exportRequest{params: standard("snapshot", patientParam(f.member), patientParam(f.nonMember))})
		if err != nil {
			return err
		}
		want := expected(h.t, h.data, selection{group: "group-01", patients: []string{f.member}})
		if d := diff(ex.keys(), want); d != "" {
			return fmt.Errorf("patient=%s,%s (not a member): %s", f.member, f.nonMember, d)
		}
		return nil
	},
	"unknown Group refused": func(h *harness, f fixtureFacts) error {
		k, err := h.kickoff(exportRequest{group: "no-such-group", params: standard("snapshot")})
		if err != nil {
			return err
		}
		if k.status == http.StatusAccepted {
			waitIdle(h)
		}
		if k.status != http.StatusNotFound {
			return fmt.Errorf("a kick-off on Group/no-such-group: HTTP %d, want 404", k.status)
		}
		_, err = k.outcome()
		return err
	},
}

// ofType returns the sorted keys of an export's resources of one type.
func ofType(ex *export, typ string) []string {
	var out []string
	for _, k := range ex.keys() {
		if strings.HasPrefix(k, typ+"/") {
			out = append(out, k)
		}
	}
	return out
}

// searchSelects checks that a Group search finds group-01 and only the
// Groups that meet it, and that a value no Group has finds none.
func searchSelects(h *harness, param, value string) error {
	for _, c := range []struct {
		value string
		want  []string
	}{{value, []string{"group-01"}}, {"urn:x|pdex-conform-no-such-value", nil}} {
		r, err := h.do(http.MethodGet, "/Group?"+param+"="+c.value, h.token(TestClientID), nil, nil)
		if err != nil {
			return err
		}
		var b struct {
			Entry []struct {
				Resource struct {
					ID string `json:"id"`
				} `json:"resource"`
			} `json:"entry"`
		}
		if err := json.Unmarshal(r.body, &b); err != nil || r.status != http.StatusOK {
			return fmt.Errorf("Group?%s=%s: HTTP %d: %v", param, c.value, r.status, err)
		}
		var got []string
		for _, e := range b.Entry {
			got = append(got, e.Resource.ID)
		}
		if !slices.Equal(got, c.want) {
			return fmt.Errorf("Group?%s=%s found %v, want %v", param, c.value, got, c.want)
		}
	}
	return nil
}

func init() {
	maps.Copy(probes, subtleProbes)
	maps.Copy(faultProbes, map[string]string{
		FaultPartialMembers:            "full export covers every member",
		FaultPartialMemberData:         "full export carries each member's data",
		FaultSinceSkipsClaims:          "_since applied",
		FaultUntilLookback:             "_until keeps everything before",
		FaultUntilAsSince:              "_until applied",
		FaultStaleLastDownload:         "last download replaced by a later one",
		FaultDuplicateLastDownload:     "last download replaced",
		FaultTrackAllMembers:           "download tracks the downloaded member only",
		FaultTypeFilterAllTypes:        "_typeFilter leaves the other types",
		FaultIgnoreGroupIdentifier:     "Group search by identifier selects",
		FaultIgnoreGroupCharacteristic: "Group search by characteristic selects",
		FaultNoPrefer404:               "Prefer required",
		FaultUnknownParam404:           "unsupported parameter refused",
		FaultMisattributeImmunization:  "patient applied",
		FaultLeakOptedOutNamed:         "opted-out withheld",
		FaultOptedOutEmptiesExport:     "opted-out withheld",
		FaultNonMemberEmptiesExport:    "non-member ignored, member kept",
		FaultVagueNonMemberError:       "non-member reported",
		FaultAcceptUnknownGroup:        "unknown Group refused",
	})
}
