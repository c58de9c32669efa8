package registry

import (
	"context"
	"strconv"
)

// auditBatchSize is the most records one AuditEvent of a batch lists: a
// transaction Bundle of 1,000 creates is audited by ten events, not one
// of a thousand entities nor a thousand of one.
const auditBatchSize = 100

// Audited is one write of a batch as its AuditEvent records it.
type Audited struct {
	Write   *Write
	Outcome *Outcome
}

// auditBatch collects the writes of one batch (a transaction Bundle, an
// import batch) for the audit step, which runs once at the end of the
// batch, in its transaction (Service.auditBatch): the events of a batch
// name every record it wrote and the decision each record's link step
// made, in a tenth of the rows one event per record takes.
type auditBatch struct {
	writes []Audited
}

type auditBatchKey struct{}

// withAuditBatch returns ctx carrying b: the pipeline's audit step for
// the writes run with it appends to b instead of writing an event.
func withAuditBatch(ctx context.Context, b *auditBatch) context.Context {
	return context.WithValue(ctx, auditBatchKey{}, b)
}

func auditBatchFrom(ctx context.Context) *auditBatch {
	b, _ := ctx.Value(auditBatchKey{}).(*auditBatch)
	return b
}

// auditBatch runs the audit step over the writes collected in b.
func (s *Service) auditBatch(ctx context.Context, tx Tx, b *auditBatch) error {
	if s.Audit == nil || len(b.writes) == 0 {
		return nil
	}
	return s.Audit.AuditBatch(ctx, tx, b.writes)
}

// AuditBatch writes the AuditEvents of a batch's writes: for each kind of
// write (create, update, delete), one event per auditBatchSize records in
// the order written. Each record is an entity with the linking decision
// it made in its details (decision, reason, kind), followed by the golden
// records the decision touched; the kinds of decision are the event's
// subtypes. A search by entity or patient finds a batch's event as it
// finds a single write's.
func (a *Auditor) AuditBatch(ctx context.Context, tx Tx, writes []Audited) error {
	type group struct {
		action, sub string
		items       []AuditItem
		at          Resource
	}
	var groups []*group
	byAction := map[string]*group{}
	flush := func(g *group) error {
		if len(g.items) == 0 {
			return nil
		}
		rec := AuditRecord{Action: g.action, Subtype: g.sub, Items: g.items, Recorded: g.at.LastUpdated,
			Detail: map[string]string{"records": strconv.Itoa(len(g.items))}}
		g.items = nil
		_, err := a.RecordTx(ctx, tx, rec)
		return err
	}
	for _, wr := range writes {
		action, sub, it := auditItem(wr.Outcome)
		g := byAction[action]
		if g == nil {
			g = &group{action: action, sub: sub}
			byAction[action] = g
			groups = append(groups, g)
		}
		g.items = append(g.items, it)
		g.at = *wr.Outcome.Resource
		if len(g.items) == auditBatchSize {
			if err := flush(g); err != nil {
				return err
			}
		}
	}
	for _, g := range groups {
		if err := flush(g); err != nil {
			return err
		}
	}
	return nil
}

// auditItem is the record a write stored, with the decision its link step
// made, and the REST action and interaction of the write.
func auditItem(out *Outcome) (action, sub string, it AuditItem) {
	r := out.Resource
	action, sub = "U", "update"
	switch {
	case r.Deleted:
		action, sub = "D", "delete"
	case out.Created:
		action, sub = "C", "create"
	}
	it.Ref = r.Type + "/" + r.ID + "/_history/" + strconv.FormatInt(r.VersionID, 10)
	if d := out.Decision; d != nil {
		it.Kind = d.Kind
		it.Detail = map[string]string{"decision": strconv.FormatInt(d.Op, 10), "reason": d.Reason}
		for _, e := range d.Entities {
			if e != r.Type+"/"+r.ID {
				it.Touched = append(it.Touched, e)
			}
		}
	}
	return action, sub, it
}
