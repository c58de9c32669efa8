package policy

import (
	"slices"
	"strings"
)

// Mode is the sharing architecture of one resource type.
type Mode string

// The sharing architectures.
const (
	// SharedRegistry: idem is the single store; clients allowed to create
	// create, everyone else reads and references idem's records.
	SharedRegistry Mode = "shared-registry"
	// SourceOfTruth: only the authoritative client(s) may create, update
	// or delete; other systems hold read-only copies.
	SourceOfTruth Mode = "source-of-truth"
	// Linked: every authorised source submits its own version of a record
	// and idem links the versions that describe the same entity.
	Linked Mode = "linked"
	// Independent: writes as for Linked, but nothing is linked
	// automatically; stewards link by hand.
	Independent Mode = "independent"
)

func (m Mode) valid() bool {
	return m == SharedRegistry || m == SourceOfTruth || m == Linked || m == Independent
}

// AutoLink reports whether records in this mode are linked automatically.
func (m Mode) AutoLink() bool { return m != Independent }

// Modes maps resource types to their sharing architecture.
type Modes map[string]Mode

// DefaultModes returns Linked for Patient, Practitioner and Location.
func DefaultModes() Modes {
	return Modes{"Patient": Linked, "Practitioner": Linked, "Location": Linked}
}

// ParseModes reads "Patient=shared-registry,Location=independent" over the
// defaults: types not named keep Linked.
func ParseModes(s string) (Modes, error) {
	m := DefaultModes()
	err := parsePairs("sharing modes", s, func(typ, v string) error {
		mode := Mode(v)
		if !mode.valid() {
			return errorf(ErrInvalid, "sharing mode %q for %s (use shared-registry, source-of-truth, linked or independent)", v, typ)
		}
		m[typ] = mode
		return nil
	})
	return m, err
}

// ParseAuthoritative reads "Patient=ehr-main,Location=facility-registry";
// naming a type again adds another authoritative client.
func ParseAuthoritative(s string) (map[string][]string, error) {
	m := map[string][]string{}
	err := parsePairs("authoritative clients", s, func(typ, name string) error {
		if err := checkName("client", name); err != nil {
			return err
		}
		if !slices.Contains(m[typ], name) {
			m[typ] = append(m[typ], name)
		}
		return nil
	})
	return m, err
}

func parsePairs(what, s string, fn func(k, v string) error) error {
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		k, v, ok := strings.Cut(part, "=")
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if !ok || k == "" || v == "" {
			return errorf(ErrInvalid, "%s: %q is not TYPE=VALUE", what, part)
		}
		if err := fn(k, v); err != nil {
			return err
		}
	}
	return nil
}

// Mode returns the sharing architecture of typ (Linked when not configured).
func (a *Authorizer) Mode(typ string) Mode {
	if m, ok := a.cfg.Modes[typ]; ok {
		return m
	}
	return Linked
}

// AutoLink reports whether records of typ are to be linked automatically
// (false in independent mode: stewards link by hand).
func (a *Authorizer) AutoLink(typ string) bool { return a.Mode(typ).AutoLink() }
