package exchange

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"idem/registry"
	"idem/registry/fhir"
)

// Ext is the base of idem's own extension URLs on Endpoint.
const Ext = "http://idem.dev/fhir/StructureDefinition/"

// Endpoint extensions: the source system pulled records are written
// under, the idem client the pull acts as, the bearer token for the peer
// (stored apart, never returned), the types to pull, the pull interval in
// seconds, and (on read) the peer's health.
const (
	ExtSourceSystem = Ext + "endpoint-source-system"
	ExtClient       = Ext + "endpoint-client"
	ExtBearerToken  = Ext + "endpoint-bearer-token"
	ExtPullType     = Ext + "endpoint-pull-type"
	ExtPullEvery    = Ext + "endpoint-pull-every"
	ExtHealth       = Ext + "endpoint-health"
)

// dirRow is a row of admin_resources: an Endpoint or Organization.
type dirRow struct {
	Type     string `gorm:"primaryKey"`
	ID       string `gorm:"primaryKey"`
	Version  int64
	Body     []byte
	Name     string // folded, for the name search
	Status   string
	ConnType string
	Org      string // "Organization/id"
	Updated  int64
}

func (dirRow) TableName() string { return "admin_resources" }

// directoryTypes are the types the directory holds.
var directoryTypes = map[string]bool{"Endpoint": true, "Organization": true}

// CreateDirectory stores a new Endpoint or Organization (admins only).
func (s *Service) CreateDirectory(ctx context.Context, typ string, res map[string]any) (map[string]any, error) {
	return s.putDirectory(ctx, typ, uuid.NewString(), res, true)
}

// UpdateDirectory replaces Endpoint or Organization id (admins only).
func (s *Service) UpdateDirectory(ctx context.Context, typ, id string, res map[string]any) (map[string]any, error) {
	if rid, _ := res["id"].(string); rid != id {
		return nil, registry.Invalid(registry.EInvalid, "invalid", typ+".id", "the body's id %q is not the id in the URL", rid)
	}
	return s.putDirectory(ctx, typ, id, res, false)
}

func (s *Service) putDirectory(ctx context.Context, typ, id string, res map[string]any, create bool) (map[string]any, error) {
	if !registry.ActorFrom(ctx).HasRole("admin") {
		return nil, registry.Errorf(registry.EForbidden, "only admins manage %s resources", typ)
	}
	row, sec, err := parseDirectory(typ, res)
	if err != nil {
		return nil, err
	}
	if c, _, ok := smartSettings(res); ok {
		if err := s.cfg.Allow.Check(c.tokenURL); err != nil {
			return nil, registry.Invalid(registry.EUnprocessable, "invalid", "Endpoint.extension", "SMART tokenUrl: %v", err)
		}
	}
	row.ID, row.Updated = id, s.now()
	if err := s.sealEndpoint(id, &sec); err != nil {
		return nil, err
	}
	err = s.db.Write(ctx, func(tx *gorm.DB) error {
		var cur dirRow
		err := tx.Where("type = ? AND id = ?", typ, id).Take(&cur).Error
		switch {
		case err == nil:
			row.Version = cur.Version + 1
		case errors.Is(err, gorm.ErrRecordNotFound):
			row.Version = 1
		default:
			return err
		}
		res["id"] = id
		res["meta"] = map[string]any{"versionId": strconv.FormatInt(row.Version, 10), "lastUpdated": registry.FormatInstant(timeOf(row.Updated))}
		row.Body = fhir.MarshalResource(res)
		if err := tx.Save(row).Error; err != nil {
			return err
		}
		if typ != "Endpoint" {
			return nil
		}
		if err := tx.Exec(`INSERT INTO endpoint_state (id) VALUES (?) ON CONFLICT (id) DO NOTHING`, id).Error; err != nil {
			return err
		}
		if sec.bearer != nil {
			if err := tx.Exec(`UPDATE endpoint_state SET secret = ? WHERE id = ?`, *sec.bearer, id).Error; err != nil {
				return err
			}
		}
		if sec.smartKey != nil {
			return tx.Exec(`UPDATE endpoint_state SET smart_key = ? WHERE id = ?`, *sec.smartKey, id).Error
		}
		return nil
	})
	if err != nil {
		return nil, registry.Internal(err)
	}
	s.Wake()
	return s.ReadDirectory(ctx, typ, id)
}

// secrets are an Endpoint's credentials taken out of its body; nil: not
// given (a stored one is kept).
type secrets struct {
	bearer, smartKey *string
}

// parseDirectory checks an Endpoint or Organization and reads its search
// columns; an Endpoint's bearer token and SMART private key are taken out
// of the body.
func parseDirectory(typ string, res map[string]any) (*dirRow, secrets, error) {
	var sec secrets
	if !directoryTypes[typ] || res["resourceType"] != typ {
		return nil, sec, registry.Invalid(registry.EInvalid, "invalid", typ, "the body is not a %s", typ)
	}
	bad := func(where, format string, args ...any) error {
		return registry.Invalid(registry.EUnprocessable, "required", where, format, args...)
	}
	row := &dirRow{Type: typ}
	name, _ := res["name"].(string)
	row.Name = strings.ToLower(strings.TrimSpace(name))
	if typ == "Organization" {
		row.Status = "active"
		if a, ok := res["active"].(bool); ok && !a {
			row.Status = "inactive"
		}
		return row, sec, nil
	}
	row.Status, _ = res["status"].(string)
	switch row.Status {
	case "active", "suspended", "error", "off", "entered-in-error", "test":
	default:
		return nil, sec, bad("Endpoint.status", "status is required: active, suspended, error, off, entered-in-error or test")
	}
	ct, _ := res["connectionType"].(map[string]any)
	if row.ConnType, _ = ct["code"].(string); row.ConnType == "" {
		return nil, sec, bad("Endpoint.connectionType", "connectionType is required (e.g. hl7-fhir-rest)")
	}
	if pt, _ := res["payloadType"].([]any); len(pt) == 0 {
		return nil, sec, bad("Endpoint.payloadType", "payloadType is required")
	}
	addr, _ := res["address"].(string)
	if u, err := url.Parse(addr); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, sec, bad("Endpoint.address", "address must be an absolute http or https URL")
	}
	if mo, _ := res["managingOrganization"].(map[string]any); mo != nil {
		row.Org, _ = mo["reference"].(string)
	}
	hs, _ := res["header"].([]any)
	for i, h := range hs {
		if name, _, _ := strings.Cut(fmt.Sprint(h), ":"); credentialHeader(name) {
			return nil, sec, registry.Invalid(registry.EUnprocessable, "security", "Endpoint.header["+strconv.Itoa(i)+"]",
				"header %q carries a credential, which Endpoint.header would keep in plain text and show on every read: give a bearer token in the extension %s (sealed, never returned) or SMART Backend Services credentials",
				strings.TrimSpace(name), ExtBearerToken)
		}
	}
	for _, t := range extensionValues(res, ExtPullType, "valueCode") {
		if t != registry.TypePatient && t != registry.TypePractitioner && t != registry.TypeLocation {
			return nil, sec, bad("Endpoint.extension", "pull type %q: Patient, Practitioner or Location", t)
		}
	}
	if _, err := intExtension(res, ExtPullEvery, "valueUnsignedInt"); err != nil {
		return nil, sec, err
	}
	if _, _, ok := smartSettings(res); ok && len(extensionValues(res, ExtBearerToken, "valueString")) > 0 {
		return nil, sec, bad("Endpoint.extension", "give a bearer token or SMART Backend Services credentials, not both")
	}
	key, err := parseSMART(res)
	if err != nil {
		return nil, sec, err
	}
	sec.smartKey = key
	exts, _ := res["extension"].([]any)
	kept := exts[:0:0]
	for _, e := range exts {
		em, _ := e.(map[string]any)
		if em["url"] == ExtBearerToken {
			if v, _ := em["valueString"].(string); v != redacted {
				sec.bearer = &v
			}
			continue
		}
		if em["url"] != ExtHealth {
			kept = append(kept, e)
		}
	}
	res["extension"] = kept
	if len(kept) == 0 {
		delete(res, "extension")
	}
	return row, sec, nil
}

// sealEndpoint replaces the plain secrets an Endpoint carried by sealed ones.
func (s *Service) sealEndpoint(id string, sec *secrets) error {
	for _, c := range []struct {
		p  **string
		at string
	}{{&sec.bearer, bearerAt(id)}, {&sec.smartKey, smartKeyAt(id)}} {
		if *c.p == nil {
			continue
		}
		sealed, err := s.seal(**c.p, c.at, "Endpoint.extension")
		if err != nil {
			return err
		}
		*c.p = &sealed
	}
	return nil
}

// redacted stands for a stored secret in what is returned.
const redacted = "***"

// ReadDirectory returns Endpoint or Organization id; an Endpoint with its
// health, and its bearer token redacted.
func (s *Service) ReadDirectory(ctx context.Context, typ, id string) (map[string]any, error) {
	var row dirRow
	err := s.db.Read().WithContext(ctx).Where("type = ? AND id = ?", typ, id).Take(&row).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, registry.Errorf(registry.ENotFound, "%s/%s is not known", typ, id)
	}
	if err != nil {
		return nil, registry.Internal(err)
	}
	return s.renderDirectory(ctx, &row)
}

// DeleteDirectory removes Endpoint or Organization id, and an Endpoint's
// pull state (admins only).
func (s *Service) DeleteDirectory(ctx context.Context, typ, id string) error {
	if !registry.ActorFrom(ctx).HasRole("admin") {
		return registry.Errorf(registry.EForbidden, "only admins manage %s resources", typ)
	}
	return s.db.Write(ctx, func(tx *gorm.DB) error {
		for _, q := range []string{`DELETE FROM admin_resources WHERE type = ? AND id = ?`} {
			if err := tx.Exec(q, typ, id).Error; err != nil {
				return err
			}
		}
		if typ != "Endpoint" {
			return nil
		}
		for _, q := range []string{`DELETE FROM endpoint_state WHERE id = ?`, `DELETE FROM pull_cursors WHERE endpoint_id = ?`, `DELETE FROM pull_map WHERE endpoint_id = ?`} {
			if err := tx.Exec(q, id).Error; err != nil {
				return err
			}
		}
		return nil
	})
}

// SearchDirectory finds Endpoints or Organizations by name (prefix),
// status, connection-type, organization and _id.
func (s *Service) SearchDirectory(ctx context.Context, typ string, params url.Values) ([]map[string]any, error) {
	q := s.db.Read().WithContext(ctx).Where("type = ?", typ).Order("name, id").Limit(500)
	for k, vs := range params {
		v := vs[0]
		switch k {
		case "name":
			v = strings.ToLower(v)
			q = q.Where("name >= ? AND name < ?", v, v+"\uffff")
		case "status":
			q = q.Where("status = ?", v)
		case "connection-type":
			_, code, ok := strings.Cut(v, "|")
			if !ok {
				code = v
			}
			q = q.Where("conn_type = ?", code)
		case "organization":
			if !strings.Contains(v, "/") {
				v = "Organization/" + v
			}
			q = q.Where("org = ?", v)
		case "_id":
			q = q.Where("id = ?", v)
		case "_count", "_format", "_pretty":
		default:
			return nil, registry.Invalid(registry.EInvalid, "not-supported", k, "unknown search parameter %q for %s (name, status, connection-type, organization, _id)", k, typ)
		}
	}
	var rows []dirRow
	if err := q.Find(&rows).Error; err != nil {
		return nil, registry.Internal(err)
	}
	out := make([]map[string]any, 0, len(rows))
	for i := range rows {
		m, err := s.renderDirectory(ctx, &rows[i])
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, nil
}

// renderDirectory returns the stored body; an Endpoint gets its health
// and, when a token is stored, the token extension with its value hidden.
func (s *Service) renderDirectory(ctx context.Context, row *dirRow) (map[string]any, error) {
	var res map[string]any
	if err := json.Unmarshal(row.Body, &res); err != nil {
		return nil, registry.Internal(err)
	}
	if row.Type != "Endpoint" {
		return res, nil
	}
	st, err := s.endpointState(ctx, s.db.Read(), row.ID)
	if err != nil {
		return nil, err
	}
	exts, _ := res["extension"].([]any)
	if st.Secret != "" {
		exts = append(exts, map[string]any{"url": ExtBearerToken, "valueString": redacted})
	}
	renderSMART(exts, st.SmartKey != "")
	exts = append(exts, st.health())
	res["extension"] = exts
	if st.Failures >= failuresToError && res["status"] == "active" {
		res["status"] = "error"
	}
	return res, nil
}

// credentialHeader reports whether an HTTP header name carries a
// credential (Authorization, a cookie, an API key or token).
func credentialHeader(name string) bool {
	n := strings.ToLower(strings.TrimSpace(name))
	switch n {
	case "authorization", "proxy-authorization", "cookie":
		return true
	}
	for _, w := range []string{"token", "secret", "password", "api-key", "apikey", "auth"} {
		if strings.Contains(n, w) {
			return true
		}
	}
	return false
}
