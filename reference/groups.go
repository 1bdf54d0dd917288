package reference

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// The attribution Group is stored as the payer keeps it: every member
// attributed to the provider, opted out or not, with what earlier exports
// recorded on Group.member. presentGroup shows it as the edition says a
// provider sees it.

// presentGroup returns a stored attribution Group in the edition's form:
//
//   - 2.0.0 (ATR group): as stored, without 2.1.0's Group.member tracking
//     extensions (2.0.0 records the last download on the Patient), and
//     without opted-out members under the opted-out-outside-group variant.
//   - 2.1.0 and 2.2.0 (pdex-provider-group on ATR's atr-group,
//     davinci-epdx@2.1.0 ProfilePDexProviderGroup.fsh): Group.code and the
//     characteristic are the pdexprovidergroup code, with the provider the
//     list is attributed to in characteristic.valueReference; opted-out
//     members are left out ("Those opted-out members SHALL be omitted from
//     the Provider Attribution list", §pdex-343/344) and counted in
//     base-ext-members-opted-out (MAY); quantity counts who is listed.
//     2.1.0 keeps the tracking extensions on Group.member; 2.2.0 deleted
//     them (FHIR-55987).
//
// Matched Groups of $provider-member-match are shown as stored.
func (s *Server) presentGroup(ctx context.Context, raw []byte, opted map[string]bool) ([]byte, error) {
	var g map[string]any
	if err := json.Unmarshal(raw, &g); err != nil {
		return nil, fmt.Errorf("stored Group is not JSON: %w", err)
	}
	if isMatchGroup(g) {
		return raw, nil
	}
	keepTracking := s.edition.tracksOnGroup(s.faults)
	outside := s.optedOutOutsideGroup()
	members, _ := g["member"].([]any)
	var listed []any
	omitted := 0
	for _, m := range members {
		mm, _ := m.(map[string]any)
		if mm == nil {
			continue
		}
		if outside {
			entity, _ := mm["entity"].(map[string]any)
			ref, _ := entity["reference"].(string)
			if pid, ok := patientID(ref); ok && opted[pid] {
				omitted++
				continue
			}
		}
		if !keepTracking {
			dropExtensions(mm, trackingExtensions...)
		}
		listed = append(listed, mm)
	}
	if listed == nil {
		delete(g, "member")
	} else {
		g["member"] = listed
	}
	if !s.edition.ProviderGroups || s.faults.has(FaultATRGroupOnly) {
		if _, ok := g["quantity"]; ok && omitted > 0 {
			g["quantity"] = len(listed)
		}
		return json.Marshal(g)
	}
	g["quantity"] = len(listed)
	exts, _ := g["extension"].([]any)
	exts = slices.DeleteFunc(exts, func(e any) bool {
		m, _ := e.(map[string]any)
		return m["url"] == extMembersOptedOut
	})
	g["extension"] = append(exts, map[string]any{"url": extMembersOptedOut, "valueQuantity": map[string]any{"value": omitted}})
	code := map[string]any{"coding": []any{map[string]any{"system": systemAttribution, "code": codeProviderGroup, "display": "PDex Provider Group"}}}
	g["code"] = code
	provider := map[string]any{}
	if npi := groupNPI(g); npi != "" {
		provider["identifier"] = map[string]any{"system": systemNPI, "value": npi}
		if org, err := s.orgByNPI(ctx, npi); err != nil {
			return nil, err
		} else if org != "" {
			provider["reference"] = "Organization/" + org
		}
	}
	char := map[string]any{"code": code, "exclude": false}
	if len(provider) > 0 {
		char["valueReference"] = provider
	}
	if meta, _ := g["meta"].(map[string]any); meta != nil {
		if lu, _ := meta["lastUpdated"].(string); len(lu) >= 10 {
			char["period"] = map[string]any{"start": lu[:10]}
		}
		meta["profile"] = []any{profileProviderGroup}
	}
	g["characteristic"] = []any{char}
	return json.Marshal(g)
}

const systemNPI = "http://hl7.org/fhir/sid/us-npi"

// groupNPI returns the Group's NPI identifier.
func groupNPI(g map[string]any) string {
	ids, _ := g["identifier"].([]any)
	for _, id := range ids {
		m, _ := id.(map[string]any)
		if m["system"] == systemNPI {
			v, _ := m["value"].(string)
			return v
		}
	}
	return ""
}

// orgByNPI finds the stored Organization with an NPI ("" when none).
func (s *Server) orgByNPI(ctx context.Context, npi string) (string, error) {
	s.orgsOnce.Do(func() {
		s.orgs = map[string]string{}
		orgs, err := s.store.ofType(ctx, "Organization")
		if err != nil {
			s.orgsErr = err
			return
		}
		for _, raw := range orgs {
			var o map[string]any
			if json.Unmarshal(raw, &o) != nil {
				continue
			}
			id, _ := o["id"].(string)
			if n := groupNPI(o); n != "" {
				s.orgs[n] = id
			}
		}
	})
	return s.orgs[npi], s.orgsErr
}

func dropExtensions(m map[string]any, urls ...string) {
	exts, _ := m["extension"].([]any)
	if exts == nil {
		return
	}
	exts = slices.DeleteFunc(exts, func(e any) bool {
		x, _ := e.(map[string]any)
		u, _ := x["url"].(string)
		return slices.Contains(urls, u)
	})
	if len(exts) == 0 {
		delete(m, "extension")
	} else {
		m["extension"] = exts
	}
}

// entitled reports whether a caller may read, search and export a Group:
// one its registration names, or a matched Group its own
// $provider-member-match created and that has not expired (§pdex-291/292).
func (s *Server) entitled(ctx context.Context, c *caller, group string) (bool, error) {
	if c.entitledTo(group) {
		return true, nil
	}
	var owner string
	var expires int64
	err := s.store.db.QueryRowContext(ctx, `SELECT client, expires FROM match_groups WHERE id = ?`, group).Scan(&owner, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("reading the owner of Group/%s: %w", group, err)
	}
	return owner == c.clientID && s.now().Before(fromMillis(expires)), nil
}

// recordOnGroup records an export on Group.member of every member whose
// data went out (2.1.0, provider-access-api.md "_type", "_typeFilter";
// ProfilePDexProviderGroup.fsh): lastTransmitted is the export's
// transaction time, or _until when earlier; lastResources and lastFilters
// hold _type and _typeFilter as sent, and are removed when the export did
// not send them (it asked for everything). Each extension replaces the
// earlier one. The Group gets a new meta.lastUpdated.
func (s *Server) recordOnGroup(ctx context.Context, tx *sql.Tx, group string, patients []string, p exportParams, at time.Time) error {
	var raw []byte
	err := tx.QueryRowContext(ctx, `SELECT json FROM resources WHERE type = 'Group' AND id = ?`, group).Scan(&raw)
	if err != nil {
		return fmt.Errorf("reading Group/%s: %w", group, err)
	}
	var g map[string]any
	if err := json.Unmarshal(raw, &g); err != nil {
		return fmt.Errorf("stored Group/%s: %w", group, err)
	}
	stamp := at
	if p.Until != nil && p.Until.Before(at) && !s.faults.has(FaultTrackIgnoresUntil) {
		stamp = *p.Until
	}
	exported := make(map[string]bool, len(patients))
	for _, pid := range patients {
		exported[pid] = true
	}
	members, _ := g["member"].([]any)
	for _, m := range members {
		mm, _ := m.(map[string]any)
		entity, _ := mm["entity"].(map[string]any)
		ref, _ := entity["reference"].(string)
		pid, _ := patientID(ref)
		if !exported[pid] && !s.faults.has(FaultTrackEveryMember) {
			continue
		}
		if !s.faults.has(FaultAppendMemberTracking) {
			dropExtensions(mm, trackingExtensions...)
		}
		exts, _ := mm["extension"].([]any)
		exts = append(exts, map[string]any{"url": LastTransmissionURL, "valueDateTime": stamp.UTC().Format(time.RFC3339Nano)})
		if p.TypesSent != "" {
			v := p.TypesSent
			if s.faults.has(FaultNormalizeLastTypes) {
				v = strings.Join(p.Types, ",")
				if len(p.Types) > 1 {
					sorted := slices.Sorted(slices.Values(p.Types))
					v = strings.Join(sorted, ",")
				}
			}
			exts = append(exts, map[string]any{"url": extLastTypes, "valueString": v})
		}
		if p.FiltersSent != "" {
			exts = append(exts, map[string]any{"url": extLastTypeFilter, "valueString": p.FiltersSent})
		}
		mm["extension"] = exts
	}
	meta, _ := g["meta"].(map[string]any)
	if meta == nil {
		meta = map[string]any{}
		g["meta"] = meta
	}
	meta["lastUpdated"] = at.UTC().Format(time.RFC3339Nano)
	out, err := json.Marshal(g)
	if err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `UPDATE resources SET json = ?, last_updated = ? WHERE type = 'Group' AND id = ?`, out, millis(at), group); err != nil {
		return fmt.Errorf("recording the export on Group/%s: %w", group, err)
	}
	return nil
}

// lastTransmitted returns, for each member of a stored Group, the time its
// Group.member last recorded (members never recorded are absent).
func lastTransmitted(raw []byte) (map[string]time.Time, error) {
	var g struct {
		Member []struct {
			Entity struct {
				Reference string `json:"reference"`
			} `json:"entity"`
			Extension []struct {
				URL           string `json:"url"`
				ValueDateTime string `json:"valueDateTime"`
			} `json:"extension"`
		} `json:"member"`
	}
	if err := json.Unmarshal(raw, &g); err != nil {
		return nil, err
	}
	out := map[string]time.Time{}
	for _, m := range g.Member {
		pid, ok := patientID(m.Entity.Reference)
		if !ok {
			continue
		}
		for _, x := range m.Extension {
			if x.URL != LastTransmissionURL {
				continue
			}
			if t, err := time.Parse(time.RFC3339Nano, x.ValueDateTime); err == nil {
				out[pid] = t
			}
		}
	}
	return out, nil
}
