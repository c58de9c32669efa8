package web

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"idem/linkage"
	"idem/policy"
	"idem/registry"
)

// Guard is the authorize step of the registry's write pipeline: every
// write — a REST interaction, each Bundle entry, a CLI load — is checked
// against the policy with the record's identifier domains and the stored
// record's owner, inside the write's transaction, and meta.source is set
// from the writing client, so clients cannot claim another system's
// records. The actor comes from the context (set at authentication); a
// system actor (idem's own commands, acting with the operator's access to
// the database) may write any record a client may.
type Guard struct{ auth Auth }

// NewGuard returns the write guard deciding with auth.
func NewGuard(auth Auth) *Guard { return &Guard{auth: auth} }

var _ registry.Authorizer = (*Guard)(nil)

// AuthorizeWrite authorises one write of the pipeline.
func (g *Guard) AuthorizeWrite(ctx context.Context, tx registry.Tx, w *registry.Write) error {
	p, ok := registry.ActorIn(ctx)
	if !ok {
		return registry.Errorf(registry.EForbidden, "a write must name who makes it (no actor in the request)")
	}
	if serverManaged(w.Type) {
		// Golden records and AuditEvents take the system path, never this one.
		return Deny(p, policy.Decision{Rule: "server-managed", Reason: fmt.Sprintf("%s resources are written by idem only", w.Type)})
	}
	if p.Kind == "system" || g.auth == nil {
		return nil
	}
	var domains []string
	if w.Resource != nil {
		domains = identifierSystems(w.Resource)
	}
	if err := allowed(g.auth, p, w.Action, w.Type, domains); err != nil {
		return err
	}
	if w.Action == "update" && w.Stored != nil && !w.Stored.Deleted && linkage.Retires(w.Type, w.Resource) {
		// active false without replaced-by takes the record out of its golden record.
		if err := allowed(g.auth, p, "retire", w.Type, nil); err != nil {
			return err
		}
	}
	stored, err := g.checkOwner(ctx, tx, p, w)
	if err != nil {
		return err
	}
	if err := g.checkIntake(ctx, p, w); err != nil {
		return err
	}
	if w.Resource != nil && p.Kind == "client" {
		setSource(w.Resource, p.System, stored)
	}
	return nil
}

// checkOwner is the ownership step of a write: a stored record (a deleted
// one too: its id stays its owner's) is updated, re-created or deleted by
// the client whose system wrote it, unless the policy grants it to p. It
// reads the stored owner inside the write's transaction, so that no
// concurrent write slips in between the check and the write. It returns
// the stored record's meta.source ("" for a new record).
func (g *Guard) checkOwner(ctx context.Context, tx registry.Tx, p registry.Actor, w *registry.Write) (string, error) {
	if serverManaged(w.Type) || w.Stored == nil {
		return "", nil // a new record: nobody owns it yet
	}
	source, err := registry.StoredSource(ctx, tx, w.Stored)
	if err != nil {
		return "", err
	}
	if d := g.auth.DecideOwner(p, w.Action, w.Type, source); !d.Allowed {
		return "", Deny(p, d)
	}
	return source, nil
}

// identifierSystems returns the distinct systems of every Identifier in a
// resource: its identifiers, those of contained resources, of references
// (Reference.identifier) and of extensions (valueIdentifier). A record
// must not carry another client's identifiers anywhere.
func identifierSystems(res map[string]any) []string {
	var out []string
	var walk func(v any)
	walk = func(v any) {
		switch t := v.(type) {
		case map[string]any:
			for k, child := range t {
				if k == "identifier" || k == "valueIdentifier" {
					out = appendSystems(out, child)
				}
				walk(child)
			}
		case []any:
			for _, child := range t {
				walk(child)
			}
		}
	}
	walk(res)
	return out
}

// appendSystems adds the systems of an Identifier or a list of them.
func appendSystems(out []string, v any) []string {
	ids, ok := v.([]any)
	if !ok {
		ids = []any{v}
	}
	for _, e := range ids {
		id, _ := e.(map[string]any)
		if sys, _ := id["system"].(string); sys != "" && !slices.Contains(out, sys) {
			out = append(out, sys)
		}
	}
	return out
}

// setSource makes meta.source the client's: its own record URL
// ("<system>/<Type>/<local id>") is kept, anything else becomes the
// stored record URL of the client's system when there is one (a source
// that PUTs its record by the registry id, without meta, must not lose
// the URL $import and pushes find it by — they would store it twice), or
// else the client's system URI. A stored record of another system that
// the client may change (an admin's or an authoritative client's
// correction) keeps its source: it stays its owner's, and the audit trail
// names who changed it.
func setSource(res map[string]any, system, stored string) {
	meta, _ := res["meta"].(map[string]any)
	if meta == nil {
		meta = map[string]any{}
		res["meta"] = meta
	}
	if stored != "" && !fromSystem(stored, system) {
		meta["source"] = stored
		return
	}
	src, _ := meta["source"].(string)
	if system == "" {
		delete(meta, "source")
		return
	}
	switch prefix := strings.TrimSuffix(system, "/") + "/"; {
	case strings.HasPrefix(src, prefix):
	case strings.HasPrefix(stored, prefix):
		meta["source"] = stored
	default:
		meta["source"] = system
	}
}

// fromSystem reports whether meta.source src names system or a record in it.
func fromSystem(src, system string) bool {
	system = strings.TrimSuffix(system, "/")
	return system != "" && (src == system || strings.HasPrefix(src, system+"/"))
}
