package linkage

import (
	"context"
	"fmt"
	"net/url"
	"strings"

	"idem/registry"
)

// PeerRefs tells which registered peer (the Endpoint registry) an absolute
// reference points at, and the id the peer's record has (or will have)
// here once pulled or followed.
type PeerRefs interface {
	// PeerRecord returns the Endpoint id, the resource type and the local
	// id of the record at ref; ok is false when ref is not a record on a
	// registered peer.
	PeerRecord(ctx context.Context, ref string) (endpoint, typ, local string, ok bool)
}

// SetPeers hands the linker the Endpoint registry, so absolute references
// to peers' records resolve to their local copies. Call it before the
// linker serves writes.
func (l *Linker) SetPeers(p PeerRefs) { l.peers = p }

// resolvePushed is the resolve step of a write that may be held (a
// client's single create or update, registry.Holding): every reference to
// a Patient, Practitioner or Location outside the payload must find its
// record —
//   - "Practitioner/77" from a source whose records carry their own URL in
//     meta.source is that source's record 77 (the identity translation
//     table: meta.source), else a registry id;
//   - a logical reference (identifier, type) finds the one record with that
//     identifier, and gets its reference;
//   - an absolute reference to a registered peer's record finds the copy
//     pulled or followed from that peer.
//
// References it cannot resolve make the write wait
// (registry.UnresolvedError): no placeholder is ever created. Absolute
// references to servers that are not peers, contained and urn: references,
// and references to types the registry does not keep stay as sent.
func (l *Linker) resolvePushed(ctx context.Context, tx registry.Tx, w *registry.Write) error {
	base := sourceBase(w.Type, w.Resource)
	var missing []registry.Unresolved
	var walk func(path string, v any) error
	walk = func(path string, v any) error {
		switch x := v.(type) {
		case map[string]any:
			if isReference(x) {
				u, err := l.resolveOne(ctx, tx, base, path, x)
				if u != nil {
					missing = append(missing, *u)
				}
				return err
			}
			for k, e := range x {
				if k == "meta" || k == "id" || k == "text" || k == "contained" || (path == w.Type && k == "link") {
					continue // Patient.link is a source's own merge, handled as such
				}
				if err := walk(path+"."+k, e); err != nil {
					return err
				}
			}
		case []any:
			for i, e := range x {
				if err := walk(fmt.Sprintf("%s[%d]", path, i), e); err != nil {
					return err
				}
			}
		}
		return nil
	}
	if err := walk(w.Type, w.Resource); err != nil {
		return err
	}
	if len(missing) > 0 {
		return registry.UnresolvedError(w.Type, missing)
	}
	return nil
}

// isReference reports whether m is a Reference: a reference string or a
// logical identifier, and nothing a Reference does not have.
func isReference(m map[string]any) bool {
	_, ref := m["reference"].(string)
	_, ident := m["identifier"].(map[string]any)
	if !ref && !ident {
		return false
	}
	for k := range m {
		switch k {
		case "reference", "identifier", "type", "display", "id", "extension":
		default:
			return false
		}
	}
	return true
}

// target is a type whose records references are resolved against.
func target(typ string) bool {
	return typ == registry.TypePatient || typ == registry.TypePractitioner || typ == registry.TypeLocation
}

// resolveOne resolves the Reference x at path; it returns what is missing
// when it cannot.
func (l *Linker) resolveOne(ctx context.Context, tx registry.Tx, base, path string, x map[string]any) (*registry.Unresolved, error) {
	ref, _ := x["reference"].(string)
	switch {
	case ref == "":
		return l.resolveLogical(ctx, tx, path, x)
	case strings.HasPrefix(ref, "#") || strings.HasPrefix(ref, "urn:"):
		return nil, nil
	case strings.Contains(ref, "://"):
		return l.resolveAbsolute(ctx, tx, path, ref, x)
	}
	parts := strings.Split(ref, "/")
	if len(parts) != 2 && !(len(parts) == 4 && parts[2] == "_history") {
		return nil, nil
	}
	typ, id := parts[0], parts[1]
	if !target(typ) {
		return nil, nil
	}
	u := &registry.Unresolved{Path: path, Reference: ref, Type: typ, ID: id}
	if base != "" {
		u.Source = base + "/" + typ + "/" + id
		found, err := l.findOne(ctx, tx, typ, url.Values{"_source": {u.Source}})
		if err != nil || found != "" {
			if found != "" {
				x["reference"] = typ + "/" + found
			}
			return nil, err
		}
	}
	ok, err := exists(ctx, tx, typ, id)
	if err != nil || ok {
		return nil, err
	}
	return u, nil
}

// resolveLogical resolves a reference by identifier.
func (l *Linker) resolveLogical(ctx context.Context, tx registry.Tx, path string, x map[string]any) (*registry.Unresolved, error) {
	typ, _ := x["type"].(string)
	typ = strings.TrimPrefix(typ, "http://hl7.org/fhir/StructureDefinition/")
	ident, _ := x["identifier"].(map[string]any)
	sys, _ := ident["system"].(string)
	val, _ := ident["value"].(string)
	if !target(typ) || val == "" {
		return nil, nil // a type the registry does not keep, or nothing to look for
	}
	token := sys + "|" + val
	if sys == "" {
		token = val
	}
	params := url.Values{"identifier": {token}}
	q, err := registry.ParseQuery(typ, params, true)
	if err != nil {
		return nil, nil
	}
	found, err := tx.Match(ctx, q, 2)
	switch {
	case err != nil:
		return nil, err
	case len(found) == 1:
		x["reference"] = typ + "/" + found[0].ID
		return nil, nil
	case len(found) > 1:
		return nil, nil // several sources' records share it: the identifier itself says who
	}
	return &registry.Unresolved{Path: path, Reference: "identifier " + token, Type: typ, Identifier: token}, nil
}

// resolveAbsolute resolves a reference to a registered peer's record.
func (l *Linker) resolveAbsolute(ctx context.Context, tx registry.Tx, path, ref string, x map[string]any) (*registry.Unresolved, error) {
	if l.peers == nil {
		return nil, nil
	}
	ep, typ, local, ok := l.peers.PeerRecord(ctx, ref)
	if !ok || !target(typ) {
		return nil, nil // another server's record: an absolute reference resolves there
	}
	found, err := exists(ctx, tx, typ, local)
	if err != nil {
		return nil, err
	}
	if found {
		x["reference"] = typ + "/" + local
		return nil, nil
	}
	return &registry.Unresolved{Path: path, Reference: ref, Type: typ, ID: local, Peer: ep, URL: ref}, nil
}

// findOne returns the id of the one current record params select, "" for
// none or several.
func (l *Linker) findOne(ctx context.Context, tx registry.Tx, typ string, params url.Values) (string, error) {
	q, err := registry.ParseQuery(typ, params, true)
	if err != nil {
		return "", nil
	}
	found, err := tx.Match(ctx, q, 2)
	if err != nil || len(found) != 1 {
		return "", err
	}
	return found[0].ID, nil
}

// exists reports whether typ/id is a current record.
func exists(ctx context.Context, tx registry.Tx, typ, id string) (bool, error) {
	r, err := tx.Read(ctx, typ, id)
	switch {
	case registry.ErrorCode(err) == registry.ENotFound:
		return false, nil
	case err != nil:
		return false, err
	}
	return !r.Deleted, nil
}
