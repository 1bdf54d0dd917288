package reference

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pdex-conform/pdex-conform/client/bulk"
	"github.com/pdex-conform/pdex-conform/client/smart"
)

// The behaviours of editions 2.1.0 and 2.2.0, each a probe that a clean
// server of the edition passes and that the fault breaking it fails.

// kind returns the kick-off parameters of a 2.1.0 kind of export, plus
// extra (a 2.2.0 delta needs _since: pass it in extra).
func kind(k string, extra ...bulk.Param) []bulk.Param {
	return append([]bulk.Param{{Name: "exportType", Type: "valueCanonical", Value: exportTypeBase + "#provider-" + k}}, extra...)
}

// editionProbe is a probe of the editions it holds in.
type editionProbe struct {
	editions []string
	run      probe
}

var (
	eds21and22 = []string{"2.1.0", "2.2.0"}
	eds21      = []string{"2.1.0"}
	eds22      = []string{"2.2.0"}
)

const sinceOld = "2000-01-01T00:00:00Z"

var editionProbes = map[string]editionProbe{
	"provider exportTypes accepted": {eds21and22, func(h *harness, f fixtureFacts) error {
		for _, k := range []string{"snapshot", "download", "delta"} {
			ps := kind(k, patientParam(f.member), p("_type", "valueString", "Patient"), p("_since", "valueInstant", sinceOld))
			if _, err := h.runExport(exportRequest{params: ps}); err != nil {
				return fmt.Errorf("provider-%s: %w", k, err)
			}
		}
		return nil
	}},
	"kick-off without exportType accepted": {eds21and22, func(h *harness, f fixtureFacts) error {
		_, err := h.runExport(exportRequest{params: []bulk.Param{patientParam(f.member), p("_type", "valueString", "Patient")}})
		return err
	}},
	"download holds what a snapshot holds": {eds21and22, func(h *harness, f fixtureFacts) error {
		var keys [2][]string
		for i, k := range []string{"snapshot", "download"} {
			ex, err := h.runExport(exportRequest{params: kind(k, patientParam(f.member), p("_type", "valueString", "Patient,Observation"))})
			if err != nil {
				return err
			}
			keys[i] = ex.keys()
		}
		if !slices.Equal(keys[0], keys[1]) {
			return fmt.Errorf("the download holds %d resources, the snapshot %d", len(keys[1]), len(keys[0]))
		}
		return nil
	}},
	"matched Group readable and searchable": {eds22, func(h *harness, f fixtureFacts) error {
		r, err := h.match(matchOf(h, f.member, npi1(h)))
		if err != nil {
			return err
		}
		id, _ := r.groups["match"]["id"].(string)
		if _, err := h.readResource(TestClientID, "Group", id); err != nil {
			return fmt.Errorf("reading the matched Group: %w", err)
		}
		s, err := h.do(http.MethodGet, "/Group?_id="+id, h.token(TestClientID), nil, nil)
		if err != nil || !strings.Contains(string(s.body), `"id":"`+id+`"`) {
			return fmt.Errorf("GET Group?_id=%s does not find it (%v)", id, err)
		}
		return nil
	}},
	"2.0.0 forms refused": {eds21and22, func(h *harness, f fixtureFacts) error {
		for name, ps := range map[string][]bulk.Param{
			"bare exportType": {p("exportType", "valueCanonical", exportTypeBase), patientParam(f.member)},
			"exportMode":      kind("snapshot", p("exportMode", "valueCode", "download"), patientParam(f.member)),
		} {
			if err := wantRefused(h, exportRequest{params: ps}, http.StatusBadRequest); err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
		}
		return nil
	}},
	"member tracking recorded": {eds21, func(h *harness, f fixtureFacts) error {
		ex, err := h.runExport(exportRequest{params: kind("download", patientParam(f.member),
			p("_type", "valueString", "Observation,Condition"), p("_typeFilter", "valueString", "Observation?category=laboratory"))})
		if err != nil {
			return err
		}
		got, err := memberTracking(h, f.member)
		if err != nil {
			return err
		}
		want := map[string][]string{LastTransmissionURL: {ex.manifest.TransactionTime}, extLastTypes: {"Observation,Condition"},
			extLastTypeFilter: {"Observation?category=laboratory"}}
		for url, vs := range want {
			if !sameTimes(got[url], vs) {
				return fmt.Errorf("Group.member of %s: %s = %v, want %v", f.member, url, got[url], vs)
			}
		}
		return nil
	}},
	"only exported members tracked": {eds21, func(h *harness, f fixtureFacts) error {
		before, err := memberTracking(h, f.second)
		if err != nil {
			return err
		}
		if _, err := h.runExport(exportRequest{params: kind("download", patientParam(f.member))}); err != nil {
			return err
		}
		after, err := memberTracking(h, f.second)
		if err != nil {
			return err
		}
		if fmt.Sprint(before) != fmt.Sprint(after) {
			return fmt.Errorf("%s was not exported, but its tracking went from %v to %v", f.second, before, after)
		}
		return nil
	}},
	"member tracking replaced": {eds21, func(h *harness, f fixtureFacts) error {
		for range 2 {
			if _, err := h.runExport(exportRequest{params: kind("download", patientParam(f.withEarlier), p("_type", "valueString", "Patient"))}); err != nil {
				return err
			}
		}
		got, err := memberTracking(h, f.withEarlier)
		if err != nil {
			return err
		}
		for _, url := range trackingExtensions[:2] {
			if len(got[url]) != 1 {
				return fmt.Errorf("Group.member of %s has %d %s values after two downloads", f.withEarlier, len(got[url]), url)
			}
		}
		return nil
	}},
	"lastTransmitted honours _until": {eds21, func(h *harness, f fixtureFacts) error {
		until := "2024-05-06T07:08:09Z"
		if _, err := h.runExport(exportRequest{params: kind("download", patientParam(f.member), p("_until", "valueInstant", until))}); err != nil {
			return err
		}
		got, err := memberTracking(h, f.member)
		if err != nil {
			return err
		}
		if !sameTimes(got[LastTransmissionURL], []string{until}) {
			return fmt.Errorf("lastTransmitted %v after a download with _until %s", got[LastTransmissionURL], until)
		}
		return nil
	}},
	"_type recorded as sent": {eds21, func(h *harness, f fixtureFacts) error {
		if _, err := h.runExport(exportRequest{params: kind("delta", patientParam(f.member), p("_type", "valueString", "Observation,Condition"))}); err != nil {
			return err
		}
		got, err := memberTracking(h, f.member)
		if err != nil {
			return err
		}
		if want := []string{"Observation,Condition"}; !slices.Equal(got[extLastTypes], want) {
			return fmt.Errorf("lastResources %v, want %v", got[extLastTypes], want)
		}
		return nil
	}},
	"tracking on Group.member, not the Patient": {eds21, func(h *harness, f fixtureFacts) error {
		before, err := h.readResource(TestClientID, "Patient", f.member)
		if err != nil {
			return err
		}
		if _, err := h.runExport(exportRequest{params: kind("download", patientParam(f.member))}); err != nil {
			return err
		}
		after, err := h.readResource(TestClientID, "Patient", f.member)
		if err != nil {
			return err
		}
		if !jsonEqual(before, after) {
			return fmt.Errorf("a download changed Patient/%s: %v", f.member, after["extension"])
		}
		got, err := memberTracking(h, f.member)
		if err != nil {
			return err
		}
		if len(got[LastTransmissionURL]) != 1 {
			return fmt.Errorf("Group.member of %s has lastTransmitted %v after a download", f.member, got[LastTransmissionURL])
		}
		return nil
	}},
	"no member tracking in 2.2.0": {eds22, func(h *harness, f fixtureFacts) error {
		if _, err := h.runExport(exportRequest{params: kind("download", patientParam(f.member), p("_type", "valueString", "Patient"))}); err != nil {
			return err
		}
		for _, id := range []string{f.member, f.withEarlier} {
			got, err := memberTracking(h, id)
			if err != nil {
				return err
			}
			if len(got) > 0 {
				return fmt.Errorf("Group.member of %s carries %v, which 2.2.0 removed", id, got)
			}
		}
		return nil
	}},
	"opted-out left out of the Group": {eds21and22, func(h *harness, f fixtureFacts) error {
		members, err := listedMembers(h)
		if err != nil {
			return err
		}
		if slices.Contains(members, f.optedOut) {
			return fmt.Errorf("Group/group-01 lists the opted-out %s", f.optedOut)
		}
		if !slices.Contains(members, f.member) {
			return fmt.Errorf("Group/group-01 does not list %s", f.member)
		}
		return nil
	}},
	"pdex-provider-group shape": {eds21and22, func(h *harness, f fixtureFacts) error {
		g, err := h.readResource(TestClientID, "Group", "group-01")
		if err != nil {
			return err
		}
		if s := fmt.Sprint(g["code"]); !strings.Contains(s, codeProviderGroup) {
			return fmt.Errorf("Group.code is %s", s)
		}
		if s := fmt.Sprint(g["characteristic"]); !strings.Contains(s, codeProviderGroup) || !strings.Contains(s, "Organization/") {
			return fmt.Errorf("Group.characteristic is %s", s)
		}
		return nil
	}},
	"Group search by code and provider": {eds21and22, func(h *harness, f fixtureFacts) error {
		for _, q := range []string{"code=" + url.QueryEscape(systemAttribution+"|"+codeProviderGroup), "characteristic-value-reference=Organization/org-prov-01"} {
			if strings.HasPrefix(q, "characteristic-value") && h.srv.edition.Name != "2.2.0" {
				continue
			}
			r, err := h.do(http.MethodGet, "/Group?"+q, h.token(TestClientID), nil, nil)
			if err != nil {
				return err
			}
			if r.status != http.StatusOK || !strings.Contains(string(r.body), `"id":"group-01"`) {
				return fmt.Errorf("GET Group?%s: HTTP %d, group-01 not found", q, r.status)
			}
		}
		return nil
	}},
	"CapabilityStatement of the edition": {eds21and22, func(h *harness, f fixtureFacts) error {
		r := h.mustDo(http.MethodGet, "/metadata", "", nil, nil)
		want := providerAccessCS + "|" + h.srv.edition.Name
		if !strings.Contains(string(r.body), want) {
			return fmt.Errorf("the CapabilityStatement does not instantiate %s", want)
		}
		for _, sp := range h.srv.edition.SearchParams {
			if !strings.Contains(string(r.body), `"name":"`+sp+`"`) {
				return fmt.Errorf("the CapabilityStatement declares no Group search parameter %s", sp)
			}
		}
		return nil
	}},
	"Consent writes accepted": {eds21and22, func(h *harness, f fixtureFacts) error {
		id, err := writeConsent(h, f.second, "deny", "")
		if err != nil {
			return err
		}
		_, err = writeConsent(h, f.second, "permit", id)
		return err
	}},
	"written Consents honoured at export": {eds21and22, func(h *harness, f fixtureFacts) error {
		count := func() (int, error) {
			ex, err := h.runExport(exportRequest{params: kind("snapshot", patientParam(f.second), p("_type", "valueString", "Patient"))})
			if err != nil {
				return 0, err
			}
			return len(ex.resources["Patient"]), nil
		}
		id, err := writeConsent(h, f.second, "deny", "")
		if err != nil {
			return err
		}
		if n, err := count(); err != nil || n != 0 {
			return fmt.Errorf("after %s opted out, the export held %d Patients (%v)", f.second, n, err)
		}
		if members, err := listedMembers(h); err != nil || slices.Contains(members, f.second) {
			return fmt.Errorf("after %s opted out, the Group still lists it (%v)", f.second, err)
		}
		if _, err := writeConsent(h, f.second, "permit", id); err != nil {
			return err
		}
		if n, err := count(); err != nil || n != 1 {
			return fmt.Errorf("after %s revoked the opt-out, the export held %d Patients (%v)", f.second, n, err)
		}
		return nil
	}},
	"members matched": {eds22, func(h *harness, f fixtureFacts) error {
		r, err := h.match(matchOf(h, f.member, npi1(h)), matchOf(h, f.second, npi1(h)))
		if err != nil {
			return err
		}
		if got := r.members("match"); !slices.Equal(got, sorted(f.member, f.second)) {
			return fmt.Errorf("matched %v, want %s and %s", got, f.member, f.second)
		}
		return nil
	}},
	"attestation verified": {eds22, func(h *harness, f fixtureFacts) error {
		r, err := h.match(matchOf(h, f.member, npi1(h)), matchOf(h, f.second, "1999999984"))
		if err != nil {
			return err
		}
		if got := r.members("match"); !slices.Equal(got, []string{f.member}) {
			return fmt.Errorf("matched %v; %s was attested by an NPI the client does not hold", got, f.second)
		}
		return nil
	}},
	"unmatched reported": {eds22, func(h *harness, f fixtureFacts) error {
		stranger := matchOf(h, f.member, npi1(h))
		stranger.patient["birthDate"] = "1901-01-01"
		r, err := h.match(matchOf(h, f.member, npi1(h)), stranger)
		if err != nil {
			return err
		}
		if r.groups["nomatch"] == nil || len(list(r.groups["nomatch"]["member"])) != 1 {
			return fmt.Errorf("NonMatchedMembers is %v, want one member", r.groups["nomatch"])
		}
		return nil
	}},
	"opted-out members not matched": {eds22, func(h *harness, f fixtureFacts) error {
		r, err := h.match(matchOf(h, f.member, npi1(h)), matchOf(h, f.optedOut, npi1(h)))
		if err != nil {
			return err
		}
		if slices.Contains(r.members("match"), f.optedOut) {
			return fmt.Errorf("the opted-out %s was matched", f.optedOut)
		}
		if got := r.members("consentconstraint"); !slices.Equal(got, []string{f.optedOut}) {
			return fmt.Errorf("ConsentConstrainedMembers lists %v, want %s", got, f.optedOut)
		}
		return nil
	}},
	"malformed match refused": {eds22, func(h *harness, f fixtureFacts) error {
		b := matchOf(h, f.member, npi1(h)).bundle()
		b["part"] = list(b["part"])[:2] // no attestation
		body, _ := json.Marshal(map[string]any{"resourceType": "Parameters", "parameter": []any{b}})
		r, err := h.do(http.MethodPost, "/Group/$provider-member-match", h.token(TestClientID),
			http.Header{"Content-Type": {"application/fhir+json"}, "Prefer": {"respond-async"}}, body)
		if err != nil {
			return err
		}
		if r.status != http.StatusBadRequest {
			return fmt.Errorf("a MemberBundle without attestation: HTTP %d", r.status)
		}
		_, err = r.outcome()
		return err
	}},
	"matched Group exported": {eds22, func(h *harness, f fixtureFacts) error {
		r, err := h.match(matchOf(h, f.member, npi1(h)))
		if err != nil {
			return err
		}
		id, _ := r.groups["match"]["id"].(string)
		ex, err := h.runExport(exportRequest{group: id, params: kind("snapshot", p("_type", "valueString", "Patient"))})
		if err != nil {
			return err
		}
		if c := ex.compartments(h.data); len(c) != 1 || !c[f.member] {
			return fmt.Errorf("the export of the matched Group/%s holds %v", id, keysOf(c))
		}
		// Another client may neither read nor export it.
		if r, err := h.do(http.MethodGet, "/Group/"+id, h.token(OtherClientID), nil, nil); err != nil || r.status != http.StatusForbidden {
			return fmt.Errorf("another client reading the matched Group: HTTP %d (%v)", r.status, err)
		}
		return nil
	}},
	"matched Group shape": {eds22, func(h *harness, f fixtureFacts) error {
		r, err := h.match(matchOf(h, f.member, npi1(h)))
		if err != nil {
			return err
		}
		g := r.groups["match"]
		if g["managingEntity"] == nil || g["code"] == nil || g["type"] != "person" || g["actual"] != true {
			return fmt.Errorf("the matched Group lacks the profile's elements: %v", g)
		}
		return nil
	}},
}

// editionFaultProbes names, for every fault of 2.1.0 or 2.2.0 only, the
// probe of the behaviour it breaks.
var editionFaultProbes = map[string]string{
	FaultRefuseExportKind:         "provider exportTypes accepted",
	FaultRefuseDownload:           "provider exportTypes accepted",
	FaultRefuseSnapshot:           "provider exportTypes accepted",
	FaultRequireExportType:        "kick-off without exportType accepted",
	FaultDownloadDiffers:          "download holds what a snapshot holds",
	FaultMatchGroupHidden:         "matched Group readable and searchable",
	FaultSkipMemberTracking:       "member tracking recorded",
	FaultTrackEveryMember:         "only exported members tracked",
	FaultAppendMemberTracking:     "member tracking replaced",
	FaultTrackIgnoresUntil:        "lastTransmitted honours _until",
	FaultNormalizeLastTypes:       "_type recorded as sent",
	FaultTrackOnPatient:           "tracking on Group.member, not the Patient",
	FaultKeepMemberTracking:       "no member tracking in 2.2.0",
	FaultListOptedOut:             "opted-out left out of the Group",
	FaultATRGroupOnly:             "pdex-provider-group shape",
	FaultGroupSearchNoCode:        "Group search by code and provider",
	FaultCapabilityNoInstantiates: "CapabilityStatement of the edition",
	FaultCapabilityOldSearch:      "CapabilityStatement of the edition",
	FaultRefuseConsentWrite:       "Consent writes accepted",
	FaultIgnoreWrittenConsent:     "written Consents honoured at export",
	FaultMatchNobody:              "members matched",
	FaultMatchWithoutAttestation:  "attestation verified",
	FaultMatchDropUnmatched:       "unmatched reported",
	FaultMatchOptedOut:            "opted-out members not matched",
	FaultMatchAcceptMalformed:     "malformed match refused",
	FaultMatchGroupNotExportable:  "matched Group exported",
	FaultMatchGroupBadShape:       "matched Group shape",
}

func TestEditionFaults(t *testing.T) {
	d := testData(t)
	f := facts(t, d)
	for _, fl := range Faults() {
		if in200(fl) {
			continue
		}
		pr, ok := editionFaultProbes[fl.Name]
		if !ok {
			t.Errorf("fault %s has no probe in editionFaultProbes", fl.Name)
		} else if _, ok := editionProbes[pr]; !ok {
			t.Errorf("fault %s names a probe %q that does not exist", fl.Name, pr)
		}
	}
	for _, ed := range []string{"2.1.0", "2.2.0"} {
		t.Run(ed+"/clean server", func(t *testing.T) {
			t.Parallel()
			h := startServer(t, Options{Edition: ed})
			for _, name := range sortedProbes(ed) {
				if err := editionProbes[name].run(h, f); err != nil {
					t.Errorf("%s: broken on the clean server: %v", name, err)
				}
			}
		})
	}
	for _, fl := range Faults() {
		if in200(fl) {
			continue
		}
		ed := fl.Editions[0]
		t.Run(ed+"/"+fl.Name, func(t *testing.T) {
			t.Parallel()
			h := startServer(t, Options{Edition: ed, Faults: []string{fl.Name}})
			own := editionFaultProbes[fl.Name]
			if err := editionProbes[own].run(h, f); err == nil {
				t.Errorf("with fault %s on, %q still behaves correctly", fl.Name, own)
			} else {
				t.Logf("%s: %v", own, err)
			}
		})
	}
}

// TestEditionFaultsAndVariantsBelong shows a fault or variant of one
// edition is refused in another.
func TestEditionFaultsAndVariantsBelong(t *testing.T) {
	for _, tc := range []struct {
		edition          string
		faults, variants []string
		want             string
	}{
		{"2.0.0", []string{FaultMatchNobody}, nil, "exists in edition 2.2.0, not 2.0.0"},
		{"2.2.0", []string{FaultSkipLastDownload}, nil, "exists in edition 2.0.0, not 2.2.0"},
		{"2.1.0", nil, []string{VariantMemberMatchSync}, "exists in edition 2.2.0, not 2.1.0"},
	} {
		_, err := New(t.Context(), Options{DB: t.TempDir() + "/x.db", BaseURL: "http://x", Data: testData(t), Edition: tc.edition, Faults: tc.faults, Variants: tc.variants})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s %v %v: %v, want %q", tc.edition, tc.faults, tc.variants, err, tc.want)
		}
	}
}

// TestEditionVariants shows each conformant variation of 2.1.0 and 2.2.0
// doing what it says, and the behaviour the suites must still accept.
func TestEditionVariants(t *testing.T) {
	d := testData(t)
	f := facts(t, d)
	t.Run("track-snapshot", func(t *testing.T) {
		t.Parallel()
		h := startServer(t, Options{Edition: "2.1.0", Variants: []string{VariantTrackSnapshot}})
		ex := h.mustExport(exportRequest{params: kind("snapshot", patientParam(f.member), p("_type", "valueString", "Patient"))})
		got, err := memberTracking(h, f.member)
		if err != nil {
			t.Fatal(err)
		}
		if !sameTimes(got[LastTransmissionURL], []string{ex.manifest.TransactionTime}) {
			t.Errorf("a snapshot under track-snapshot recorded %v", got)
		}
	})
	t.Run("clean 2.1.0 snapshot records nothing", func(t *testing.T) {
		t.Parallel()
		h := startServer(t, Options{Edition: "2.1.0"})
		before, _ := memberTracking(h, f.member)
		h.mustExport(exportRequest{params: kind("snapshot", patientParam(f.member))})
		after, _ := memberTracking(h, f.member)
		if fmt.Sprint(before) != fmt.Sprint(after) {
			t.Errorf("a snapshot changed %v to %v", before, after)
		}
	})
	t.Run("suppress-consent-constrained", func(t *testing.T) {
		t.Parallel()
		h := startServer(t, Options{Edition: "2.2.0", Variants: []string{VariantSuppressConstrained}})
		r, err := h.match(matchOf(h, f.member, npi1(h)), matchOf(h, f.optedOut, npi1(h)))
		if err != nil {
			t.Fatal(err)
		}
		if r.groups["consentconstraint"] != nil || r.groups["nomatch"] == nil {
			t.Errorf("groups %v: the opted-out member belongs in NonMatchedMembers", slices.Collect(mapKeys(r.groups)))
		}
	})
	t.Run("member-match-sync", func(t *testing.T) {
		t.Parallel()
		h := startServer(t, Options{Edition: "2.2.0", Variants: []string{VariantMemberMatchSync}})
		body, _ := json.Marshal(map[string]any{"resourceType": "Parameters", "parameter": []any{matchOf(h, f.member, npi1(h)).bundle()}})
		r := h.mustDo(http.MethodPost, "/Group/$provider-member-match", h.token(TestClientID),
			http.Header{"Content-Type": {"application/fhir+json"}, "Prefer": {"respond-async"}}, body)
		if r.status != http.StatusOK || !strings.Contains(string(r.body), `"name":"MatchedMembers"`) {
			t.Errorf("HTTP %d %.300s", r.status, r.body)
		}
	})
	t.Run("2.2.0 delta without _since refused", func(t *testing.T) {
		t.Parallel()
		h := startServer(t, Options{Edition: "2.2.0"})
		if err := wantRefused(h, exportRequest{params: kind("delta", patientParam(f.member))}, http.StatusBadRequest); err != nil {
			t.Error(err)
		}
	})
	t.Run("2.1.0 delta without _since starts at lastTransmitted", func(t *testing.T) {
		t.Parallel()
		h := startServer(t, Options{Edition: "2.1.0"})
		h.mustExport(exportRequest{params: kind("download", patientParam(f.member))})
		ex := h.mustExport(exportRequest{params: kind("delta", patientParam(f.member))})
		if n := len(ex.keys()); n != 0 {
			t.Errorf("a delta right after a download exported %d resources: %v", n, ex.keys()[:min(3, n)])
		}
	})
}

func sortedProbes(edition string) []string {
	var out []string
	for name, pr := range editionProbes {
		if slices.Contains(pr.editions, edition) {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

// memberTracking reads the tracking extensions of a member's entry in
// Group/group-01, as the server shows it.
func memberTracking(h *harness, member string) (map[string][]string, error) {
	g, err := h.readResource(TestClientID, "Group", "group-01")
	if err != nil {
		return nil, err
	}
	out := map[string][]string{}
	for _, m := range list(g["member"]) {
		mm, _ := m.(map[string]any)
		ent, _ := mm["entity"].(map[string]any)
		if ent["reference"] != "Patient/"+member {
			continue
		}
		for _, x := range list(mm["extension"]) {
			xm, _ := x.(map[string]any)
			u, _ := xm["url"].(string)
			if !slices.Contains(trackingExtensions, u) {
				continue
			}
			v, _ := xm["valueDateTime"].(string)
			if v == "" {
				v, _ = xm["valueString"].(string)
			}
			out[u] = append(out[u], v)
		}
	}
	return out, nil
}

// sameTimes compares values that may be times in different precisions.
func sameTimes(got, want []string) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		a, errA := time.Parse(time.RFC3339Nano, got[i])
		b, errB := time.Parse(time.RFC3339Nano, want[i])
		if errA == nil && errB == nil {
			if !a.Equal(b) {
				return false
			}
		} else if got[i] != want[i] {
			return false
		}
	}
	return true
}

// listedMembers reads the patients Group/group-01 lists.
func listedMembers(h *harness) ([]string, error) {
	g, err := h.readResource(TestClientID, "Group", "group-01")
	if err != nil {
		return nil, err
	}
	var out []string
	for _, m := range list(g["member"]) {
		mm, _ := m.(map[string]any)
		ent, _ := mm["entity"].(map[string]any)
		ref, _ := ent["reference"].(string)
		if id, ok := patientID(ref); ok {
			out = append(out, id)
		}
	}
	return out, nil
}

// writeConsent creates (id "") or updates a member's pdex-provider-consent
// with a token for Consent writes, and returns its id.
func writeConsent(h *harness, member, provision, id string) (string, error) {
	tr, _, err := h.requestToken(TestClientID, "system/Consent.write", smart.AssertionOptions{})
	if err != nil {
		return "", err
	}
	c := map[string]any{
		"resourceType": "Consent", "status": "active",
		"scope":    map[string]any{"coding": []any{map[string]any{"system": systemScope, "code": "patient-privacy"}}},
		"category": []any{map[string]any{"coding": []any{map[string]any{"system": systemActCode, "code": "IDSCL"}}}, map[string]any{"coding": []any{map[string]any{"system": systemAPIPurpose, "code": "provider-access"}}}},
		"patient":  map[string]any{"reference": "Patient/" + member},
		"provision": map[string]any{"type": provision, "period": map[string]any{"start": "2026-01-01"},
			"action": []any{map[string]any{"coding": []any{map[string]any{"system": systemConsentAct, "code": "disclose"}}}}},
	}
	method, path, want := http.MethodPost, "/Consent", http.StatusCreated
	if id != "" {
		c["id"] = id
		method, path, want = http.MethodPut, "/Consent/"+id, http.StatusOK
	}
	body, _ := json.Marshal(c)
	r, err := h.do(method, path, tr.AccessToken, http.Header{"Content-Type": {"application/fhir+json"}}, body)
	if err != nil {
		return "", err
	}
	if r.status != want {
		return "", fmt.Errorf("%s %s: HTTP %d: %.300s", method, path, r.status, r.body)
	}
	var created struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(r.body, &created); err != nil || created.ID == "" {
		return "", errors.New("the written Consent has no id")
	}
	return created.ID, nil
}

// npi1 is group-01's NPI: the provider the test client acts for.
func npi1(h *harness) string { return groupInfo(h.t, h.data, "group-01").NPI }

// matchInput is one member of a match request.
type matchInput struct {
	patient, coverage map[string]any
	npi               string
}

// matchOf builds a member's match input from the data set: its Patient and
// Coverage as the payer holds them, attested by npi.
func matchOf(h *harness, member, npi string) matchInput {
	h.t.Helper()
	in := matchInput{npi: npi}
	for _, r := range h.data.Resources {
		if r.PatientID != member || (r.Type != "Patient" && r.Type != "Coverage") {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal(r.JSON, &m); err != nil {
			h.t.Fatal(err)
		}
		delete(m, "meta")
		if r.Type == "Patient" {
			in.patient = m
		} else {
			in.coverage = m
		}
	}
	if in.patient == nil || in.coverage == nil {
		h.t.Fatalf("no Patient and Coverage for %s", member)
	}
	return in
}

func (in matchInput) bundle() map[string]any {
	att := map[string]any{"resourceType": "Consent", "status": "active", "dateTime": "2026-01-01T00:00:00Z",
		"patient":   map[string]any{"reference": "Patient/x"},
		"performer": []any{map[string]any{"identifier": map[string]any{"system": systemNPI, "value": in.npi}}},
		"provision": map[string]any{"type": "permit"}}
	return map[string]any{"name": "MemberBundle", "part": []any{
		map[string]any{"name": "MemberPatient", "resource": in.patient},
		map[string]any{"name": "CoverageToMatch", "resource": in.coverage},
		map[string]any{"name": "Consent", "resource": att},
	}}
}

// matchAnswer is a member-match response's Groups by result code.
type matchAnswer struct{ groups map[string]map[string]any }

func (a matchAnswer) members(code string) []string {
	var out []string
	for _, m := range list(a.groups[code]["member"]) {
		mm, _ := m.(map[string]any)
		ent, _ := mm["entity"].(map[string]any)
		ref, _ := ent["reference"].(string)
		if id, ok := patientID(ref); ok {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return out
}

// match runs $provider-member-match asynchronously and reads the Groups.
func (h *harness) match(ins ...matchInput) (matchAnswer, error) {
	var ps []any
	for _, in := range ins {
		ps = append(ps, in.bundle())
	}
	body, _ := json.Marshal(map[string]any{"resourceType": "Parameters", "parameter": ps})
	r, err := h.do(http.MethodPost, "/Group/$provider-member-match", h.token(TestClientID),
		http.Header{"Content-Type": {"application/fhir+json"}, "Prefer": {"respond-async"}}, body)
	if err != nil {
		return matchAnswer{}, err
	}
	if r.status != http.StatusAccepted {
		return matchAnswer{}, fmt.Errorf("$provider-member-match: HTTP %d: %.300s", r.status, r.body)
	}
	ex, err := h.finish(TestClientID, r.header.Get("Content-Location"))
	if err != nil {
		return matchAnswer{}, err
	}
	a := matchAnswer{groups: map[string]map[string]any{}}
	for _, g := range ex.resources["Group"] {
		code, _ := g["code"].(map[string]any)
		for _, c := range list(code["coding"]) {
			cm, _ := c.(map[string]any)
			if s, _ := cm["code"].(string); s != "" {
				a.groups[s] = g
			}
		}
		if strings.HasPrefix(fmt.Sprint(g["id"]), matchGroupPrefix) && !strings.Contains(fmt.Sprint(g["id"]), "-nomatch") && !strings.Contains(fmt.Sprint(g["id"]), "-consent") {
			a.groups["match"] = g // even without its code (the bad-shape fault)
		}
	}
	return a, nil
}

func list(v any) []any { l, _ := v.([]any); return l }

func sorted(xs ...string) []string { slices.Sort(xs); return xs }

func mapKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}
