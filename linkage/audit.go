package linkage

import (
	"context"
	"strconv"

	"idem/registry"
)

// maxAuditEntities bounds the records one decision's AuditEvent lists: a
// $mdm-clear may touch thousands; the decision id leads to all of them.
const maxAuditEntities = 100

// audit writes the AuditEvent of p's decision, once its op is stored, in
// the decision's transaction.
func (p *plan) audit(ctx context.Context) error {
	entities := p.auditEntities()
	detail := map[string]string{"decision": strconv.FormatInt(p.op.ID, 10), "reason": p.reason}
	if p.undoes != 0 {
		detail["undoes"] = strconv.FormatInt(p.undoes, 10)
	}
	if len(entities) > maxAuditEntities {
		detail["records"] = strconv.Itoa(len(entities))
		entities = entities[:maxAuditEntities]
	}
	ev := registry.AuditEvent(registry.AuditRecord{
		Action:   "E",
		Subtype:  p.op.Kind,
		Outcome:  registry.AuditSuccess,
		Agent:    registry.ActorFrom(ctx),
		Entities: entities,
		Recorded: p.op.At,
		Detail:   detail,
	})
	_, err := p.l.w.Create(ctx, p.ltx, registry.TypeAuditEvent, p.l.w.NewResourceID(), ev)
	return err
}

// auditEntities lists the golden and source records of the links the plan
// changes, then the other golden records it rebuilds, each once.
func (p *plan) auditEntities() []string {
	var out []string
	seen := map[string]bool{}
	add := func(ref string) {
		if !seen[ref] {
			seen[ref] = true
			out = append(out, ref)
		}
	}
	for _, k := range append(append([]*registry.Link{}, p.puts...), p.removes...) {
		if k.GoldenID != "" {
			add(k.Golden())
		}
		if k.SourceID != "" {
			add(k.Source())
		}
	}
	for _, g := range p.touched {
		add(g)
	}
	return out
}
