package registry

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strings"

	"idem/registry/fhir"
)

// ImportRecord is one record of a bulk import: a line parsed and
// validated (Resource), or the reason it was not (Err).
type ImportRecord struct {
	Line     int
	Type     string
	Resource map[string]any
	Err      error

	localID  string     // the line's id: the source's own id of the record
	source   string     // meta.source the record is written with, when known
	system   string     // the source system it is reported under
	criteria url.Values // how an earlier version is found; nil: always a new record
	keys     MatchIndex
	refusal  error // why the record was reported rejected
}

// ImportCommit records a batch's results inside the batch's transaction
// (the job's cursor and report), so that the results of a batch are
// committed exactly when its writes are.
type ImportCommit func(ctx context.Context, tx Tx, upTo int, results []*ImportResult) error

// ImportBatch writes recs as the actor of ctx, through the write pipeline
// (authorize, resolve, store, link, audit), in one transaction, and
// returns one result per record. A line's id is the source's own id: the
// record is written with meta.source "<client system>/<Type>/<id>", and a
// record stored with that meta.source before is updated, never
// duplicated; a line without id updates the record with its first
// identifier, or creates one. Records that failed validation are reported
// rejected; when a write is refused (policy, several matches), the batch
// is rolled back and its records are written one by one, so the refusal
// names its line. Only failures of the store itself are returned.
func (s *Service) ImportBatch(ctx context.Context, recs []*ImportRecord, commit ImportCommit) ([]*ImportResult, error) {
	if len(recs) == 0 {
		return nil, nil
	}
	actor := ActorFrom(ctx)
	for _, r := range recs {
		r.system = actor.System
		if r.Err == nil {
			r.prepare(actor)
		}
	}
	s.importKeys(recs)
	upTo := recs[len(recs)-1].Line
	var results []*ImportResult
	err := s.Store.Write(ctx, func(tx Tx) (err error) {
		if results, err = s.importTx(ctx, tx, recs); err != nil {
			return err
		}
		return commit(ctx, tx, upTo, results)
	})
	switch {
	case err == nil:
		return results, nil
	case ErrorCode(err) == EInternal || ctx.Err() != nil:
		return nil, err
	}
	return s.importOneByOne(ctx, recs, commit)
}

// importOneByOne writes each record in its own transaction; a refused
// record is reported rejected (with the cursor moved past it).
func (s *Service) importOneByOne(ctx context.Context, recs []*ImportRecord, commit ImportCommit) ([]*ImportResult, error) {
	var all []*ImportResult
	for _, r := range recs {
		var results []*ImportResult
		err := s.Store.Write(ctx, func(tx Tx) (err error) {
			if results, err = s.importTx(ctx, tx, []*ImportRecord{r}); err != nil {
				return err
			}
			return commit(ctx, tx, r.Line, results)
		})
		if err != nil && ErrorCode(err) != EInternal && ctx.Err() == nil {
			results = []*ImportResult{rejected(r, err)}
			err = s.Store.Write(ctx, func(tx Tx) error { return commit(ctx, tx, r.Line, results) })
		}
		if err != nil {
			return nil, err
		}
		all = append(all, results...)
	}
	return all, nil
}

// importTx writes recs inside tx. It finds every record's earlier version
// first, before anything of the batch is written, so the lookups read the
// index without flushing the batch's buffered rows; records of the batch
// that share a source see each other.
func (s *Service) importTx(ctx context.Context, tx Tx, recs []*ImportRecord) ([]*ImportResult, error) {
	targets := make([]string, len(recs))
	results := make([]*ImportResult, len(recs))
	if err := s.lookupSources(ctx, tx, recs, targets, results); err != nil {
		return nil, err
	}
	bctx, err := s.prepare(ctx, tx, len(recs), func(i int) (string, MatchIndex) {
		if recs[i].Err != nil || results[i] != nil {
			return "", MatchIndex{}
		}
		return recs[i].Type, recs[i].keys
	})
	if err != nil {
		return nil, err
	}
	batch := map[string]string{} // criteria → id written earlier in this batch
	audit := &auditBatch{}
	wctx := withAuditBatch(bctx, audit)
	for i, r := range recs {
		if r.Err != nil {
			results[i] = rejected(r, r.Err)
		}
		if results[i] != nil {
			continue
		}
		key := r.Type + "?" + r.criteria.Encode()
		id := targets[i]
		if id == "" && r.criteria != nil {
			id = batch[key]
		}
		out, err := s.importWrite(wctx, tx, r, id)
		if err != nil {
			return nil, lineRefused(r, err) // the batch is retried record by record
		}
		if r.criteria != nil {
			batch[key] = out.Resource.ID
		}
		results[i] = accepted(r, out)
	}
	if err := s.settleBatch(wctx, tx); err != nil {
		return nil, err
	}
	if err := s.auditBatch(ctx, tx, audit); err != nil {
		return nil, err
	}
	return results, s.claimImported(ctx, tx, recs, results)
}

// lookupSources finds the earlier version of each record of recs:
// those with a source id (_source criteria) in one query per
// lookupChunk records of a type, the others by their criteria one by
// one. It sets targets[i] to the id found, or results[i] to the record's
// rejection (its criteria match more than one record).
func (s *Service) lookupSources(ctx context.Context, tx Tx, recs []*ImportRecord, targets []string, results []*ImportResult) error {
	bySource := map[string][]int{} // "Type\x00source" → the records with it
	var chunks [][]string          // "Type\x00source" keys, a type per chunk
	open := map[string]int{}       // type → its chunk being filled
	for i, r := range recs {
		if r.Err != nil || r.criteria == nil {
			continue
		}
		if src := r.criteria.Get("_source"); src != "" && len(r.criteria) == 1 {
			k := r.Type + "\x00" + src
			if bySource[k] == nil {
				c, ok := open[r.Type]
				if !ok || len(chunks[c]) == lookupChunk {
					c = len(chunks)
					open[r.Type] = c
					chunks = append(chunks, nil)
				}
				chunks[c] = append(chunks[c], k)
			}
			bySource[k] = append(bySource[k], i)
			continue
		}
		if err := s.lookupOne(ctx, tx, r, &targets[i], &results[i]); err != nil {
			return err
		}
	}
	for _, chunk := range chunks {
		found, ok, err := s.sourcesFound(ctx, tx, chunk)
		if err != nil {
			return err
		}
		for _, k := range chunk {
			for _, i := range bySource[k] {
				switch {
				case !ok: // the answer cannot be told apart by source: one by one
					if err := s.lookupOne(ctx, tx, recs[i], &targets[i], &results[i]); err != nil {
						return err
					}
				case len(found[k]) > 1:
					results[i] = rejected(recs[i], Errorf(EPrecondition, "import criteria match more than one %s", recs[i].Type))
				case len(found[k]) == 1:
					targets[i] = found[k][0]
				}
			}
		}
	}
	return nil
}

// lookupChunk is how many source ids one lookup query asks for.
const lookupChunk = 200

// lookupOne finds r's earlier version by its criteria alone.
func (s *Service) lookupOne(ctx context.Context, tx Tx, r *ImportRecord, target *string, result **ImportResult) error {
	found, err := s.match(ctx, tx, r.Type, r.criteria, "import")
	switch {
	case ErrorCode(err) == EInternal:
		return err
	case err != nil:
		*result = rejected(r, err)
	case found != nil:
		*target = found.ID
	}
	return nil
}

// sourcesFound returns the ids of the current records holding each
// source of keys ("Type\x00source", one type) as meta.source, from one
// search for any of them (_source=a,b,…); !ok when the answer is full or
// holds a record whose meta.source is none of them.
func (s *Service) sourcesFound(ctx context.Context, tx Tx, keys []string) (found map[string][]string, ok bool, err error) {
	typ, _, _ := strings.Cut(keys[0], "\x00")
	values := make([]string, len(keys))
	for i, k := range keys {
		_, src, _ := strings.Cut(k, "\x00")
		values[i] = fhir.Escape(src)
	}
	q, err := ParseQuery(typ, url.Values{"_source": {strings.Join(values, ",")}}, true)
	if err != nil {
		return nil, false, nil // a source the query syntax refuses: each alone, as before
	}
	limit := 2*len(keys) + 1
	rs, err := tx.Match(ctx, q, limit)
	if err != nil || len(rs) == limit {
		return nil, false, err
	}
	found = map[string][]string{}
	for _, r := range rs {
		body, err := DecodeStored(r)
		if err != nil {
			return nil, false, err
		}
		k := typ + "\x00" + AsString(AsObject(body["meta"])["source"])
		if !slices.Contains(keys, k) {
			return nil, false, nil
		}
		found[k] = append(found[k], r.ID)
	}
	return found, true, nil
}

// claimImported claims, for each record written, the key of the criteria
// it was looked up by (its source record, or its first identifier), as a
// conditional create claims its If-None-Exist: keys are unique in the
// store, so an import that missed a record another transaction was
// creating at the same time fails on the claim, is retried, and then
// finds and updates it. An update releases a record's claims, so updates
// claim again. The claims come after every write of the batch: one flush.
func (s *Service) claimImported(ctx context.Context, tx Tx, recs []*ImportRecord, results []*ImportResult) error {
	claimed := map[string]bool{}
	var claims []Claim
	for i, r := range recs {
		if r.criteria == nil || results[i] == nil || results[i].Outcome == ImportRejected {
			continue
		}
		key := CanonicalQuery(r.Type, r.criteria)
		if claimed[key] { // a record the batch wrote twice
			continue
		}
		claimed[key] = true
		claims = append(claims, Claim{Type: r.Type, Key: key, ID: results[i].ID})
	}
	return tx.ClaimKeys(ctx, claims...)
}

// importWrite runs one record through the pipeline: an update of id, or
// a create when id is "".
func (s *Service) importWrite(ctx context.Context, tx Tx, r *ImportRecord, id string) (*Outcome, error) {
	delete(r.Resource, "id") // the line's id is the source's; a retried transaction starts over
	if id == "" {
		return s.put(ctx, tx, r.Type, s.newID(), r.Resource, nil, r.keys)
	}
	r.Resource["id"] = id
	return s.updateTx(ctx, tx, r.Type, id, r.Resource, 0, r.keys)
}

// prepare takes the line's id as the source's own id of the record and
// decides how an earlier version of it is found.
func (r *ImportRecord) prepare(actor Actor) {
	r.localID, _ = r.Resource["id"].(string)
	delete(r.Resource, "id")
	meta, _ := r.Resource["meta"].(map[string]any)
	if meta == nil {
		meta = map[string]any{}
	}
	system := strings.TrimSuffix(actor.System, "/")
	src, _ := meta["source"].(string)
	switch {
	case r.localID != "" && system != "":
		src = system + "/" + r.Type + "/" + r.localID
	case src != "" && strings.Contains(src, "/"+r.Type+"/") && (system == "" || strings.HasPrefix(src, system+"/")):
		// already a record URL in the writer's system (the demo network's records carry theirs)
	default:
		src = ""
	}
	if src != "" {
		if i := strings.Index(src, "/"+r.Type+"/"); i > 0 {
			r.system = src[:i]
		}
		meta["source"] = src
		r.Resource["meta"] = meta
		r.source, r.criteria = src, url.Values{"_source": {src}}
		return
	}
	for _, id := range AsList(r.Resource["identifier"]) {
		o := AsObject(id)
		if sys, val := AsString(o["system"]), AsString(o["value"]); sys != "" && val != "" {
			r.criteria = url.Values{"identifier": {sys + "|" + val}}
			return
		}
	}
}

// importKeys computes blocking keys and features on all cores before the
// transaction starts.
func (s *Service) importKeys(recs []*ImportRecord) {
	s.indexAll(len(recs), func(i int) {
		if r := recs[i]; r.Err == nil {
			r.keys = s.writer().Index(r.Type, r.Resource)
		}
	})
}

func accepted(r *ImportRecord, out *Outcome) *ImportResult {
	res := &ImportResult{Line: r.Line, Type: r.Type, ID: out.Resource.ID, System: r.system, Outcome: ImportUpdated,
		Golden: out.Golden, NewGolden: out.NewGolden, Review: out.Review, Capped: out.Capped}
	if out.Created {
		res.Outcome = ImportCreated
	}
	res.Source, _ = AsObject(r.Resource["meta"])["source"].(string)
	return res
}

func rejected(r *ImportRecord, err error) *ImportResult {
	r.refusal = err
	issues := ErrorIssues(err)
	if r.Err == nil { // a refusal of the write: name the line (parse errors name it already)
		issues = slices.Clone(issues)
		for i := range issues {
			issues[i].Diagnostics = fmt.Sprintf("line %d: %s", r.Line, issues[i].Diagnostics)
		}
	}
	problem, _ := json.Marshal(fhir.OperationOutcome(issues))
	res := &ImportResult{Line: r.Line, Type: r.Type, Outcome: ImportRejected, Source: r.source, System: r.system, Problem: problem}
	if res.Source == "" && r.Resource != nil {
		res.Source, _ = AsObject(r.Resource["meta"])["source"].(string)
	}
	return res
}
