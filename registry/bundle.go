package registry

import (
	"context"
	"fmt"
	"net/url"
	"runtime"
	"strconv"
	"strings"
	"sync"

	"idem/registry/fhir"
)

// entry is one parsed Bundle.entry of a transaction or batch.
type entry struct {
	index       int
	fullURL     string
	method      string
	typ, id     string
	version     int64      // vread in GET
	query       url.Values // conditional criteria or search parameters
	rawQuery    string
	ifNoneExist string
	ifMatch     int64
	res         map[string]any
	keys        MatchIndex // blocking keys and features, computed before the transaction
	// results
	out    *Outcome
	err    error
	result map[string]any // GET: the resource or searchset read
}

func (e *entry) path() string { return fmt.Sprintf("Bundle.entry[%d]", e.index) }

// BundleOptions are the request settings a Bundle is processed with.
type BundleOptions struct {
	Return string // Prefer return: "minimal" (default), "representation", "OperationOutcome"
	Base   string // this server's FHIR base URL, for fullUrl in the response
}

// Bundle processes a transaction or batch Bundle, already validated, and
// returns the response Bundle. A transaction fails as a whole with the first
// entry's error; a batch reports each entry.
func (s *Service) Bundle(ctx context.Context, b map[string]any, opts BundleOptions) (map[string]any, error) {
	typ, _ := b["type"].(string)
	if typ != "transaction" && typ != "batch" {
		return nil, Invalid(EInvalid, "invalid", "Bundle.type", "only transaction and batch Bundles can be processed (got %q)", typ)
	}
	raw, _ := b["entry"].([]any)
	entries := make([]*entry, len(raw))
	for i, r := range raw {
		e, err := parseEntry(i, r)
		if err != nil && typ == "transaction" {
			return nil, err
		}
		e.err = err
		entries[i] = e
	}
	s.prepareKeys(entries)
	if typ == "transaction" {
		if err := s.transaction(ctx, entries, opts.Base); err != nil {
			return nil, err
		}
	} else {
		s.batch(ctx, entries, opts.Base)
	}
	return responseBundle(typ+"-response", entries, opts), nil
}

func parseEntry(i int, raw any) (*entry, error) {
	m, _ := raw.(map[string]any)
	e := &entry{index: i}
	e.fullURL, _ = m["fullUrl"].(string)
	e.res, _ = m["resource"].(map[string]any)
	req, _ := m["request"].(map[string]any)
	if req == nil {
		return e, Invalid(EInvalid, "required", e.path()+".request", "entry %d has no request", i)
	}
	e.method, _ = req["method"].(string)
	e.ifNoneExist, _ = req["ifNoneExist"].(string)
	if im, ok := req["ifMatch"].(string); ok {
		v, err := ParseETag(im)
		if err != nil {
			return e, Invalid(EInvalid, "invalid", e.path()+".request.ifMatch", "%v", err)
		}
		e.ifMatch = v
	}
	u, _ := req["url"].(string)
	if err := e.parseURL(u); err != nil {
		return e, err
	}
	return e, e.check()
}

// parseURL splits a relative request URL: Type, Type/id, Type/id/_history/v, Type?query.
func (e *entry) parseURL(u string) error {
	bad := func(format string, args ...any) error {
		return Invalid(EInvalid, "invalid", e.path()+".request.url", format, args...)
	}
	path, rawQuery, _ := strings.Cut(u, "?")
	parts := strings.Split(strings.Trim(path, "/"), "/")
	if !IsType(parts[0]) {
		return bad("request.url %q does not name a resource type this server serves", u)
	}
	e.typ, e.rawQuery = parts[0], rawQuery
	q, err := url.ParseQuery(rawQuery)
	if err != nil {
		return bad("request.url %q has an invalid query: %v", u, err)
	}
	e.query = q
	switch {
	case len(parts) == 1:
	case len(parts) == 2:
		e.id = parts[1]
	case len(parts) == 4 && parts[2] == "_history" && e.method == "GET":
		e.id = parts[1]
		if e.version, err = strconv.ParseInt(parts[3], 10, 64); err != nil || e.version < 1 {
			return bad("request.url %q has an invalid version", u)
		}
	default:
		return bad("request.url %q is not a supported interaction", u)
	}
	return nil
}

// check validates the combination of method, URL and resource.
func (e *entry) check() error {
	bad := func(expr, format string, args ...any) error {
		return Invalid(EInvalid, "invalid", e.path()+expr, format, args...)
	}
	needsBody := e.method == "POST" || e.method == "PUT"
	switch {
	case e.method == "PATCH" || e.method == "HEAD":
		return &Error{Code: EMethod, Message: fmt.Sprintf("%s is not supported in bundles", e.method)}
	case needsBody && e.res == nil:
		return bad(".resource", "a %s entry needs a resource", e.method)
	case needsBody && e.res["resourceType"] != e.typ:
		return bad(".resource.resourceType", "resource type %v does not match request.url type %s", e.res["resourceType"], e.typ)
	case e.method == "POST" && (e.id != "" || len(e.query) > 0):
		return bad(".request.url", "a POST entry's url must be the bare type (use ifNoneExist for conditional create)")
	case (e.method == "PUT" || e.method == "DELETE") && e.id == "" && len(e.query) == 0:
		return bad(".request.url", "a %s entry needs an id or search criteria", e.method)
	case e.method == "PUT" && e.id != "":
		return checkBodyID(e.typ, e.id, e.res)
	}
	return nil
}

// ParseETag parses a weak or strong ETag holding a version: W/"3", "3" or 3.
func ParseETag(s string) (int64, error) {
	v := strings.Trim(strings.TrimPrefix(strings.TrimSpace(s), "W/"), `"`)
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 1 {
		return 0, fmt.Errorf("%q is not a version ETag like W/\"3\"", s)
	}
	return n, nil
}

// transaction runs all entries in one store transaction, in the order of
// transaction.html: DELETE, POST, PUT, then GET after the writes.
func (s *Service) transaction(ctx context.Context, entries []*entry, base string) error {
	ids, err := s.assignIDs(entries)
	if err != nil {
		return err
	}
	refs := collectRefs(entries)
	err = s.Store.Write(ctx, func(tx Tx) error {
		resolved := make(map[string]string, len(ids))
		for k, v := range ids {
			resolved[k] = v
		}
		if err := s.resolveConditional(ctx, tx, entries, resolved); err != nil {
			return err
		}
		if err := s.rewriteRefs(ctx, tx, refs, resolved); err != nil {
			return err
		}
		bctx, err := s.prepare(ctx, tx, len(entries), func(i int) (string, MatchIndex) {
			return entries[i].typ, entries[i].keys
		})
		if err != nil {
			return err
		}
		audit := &auditBatch{}
		wctx := withAuditBatch(bctx, audit)
		for _, method := range []string{"DELETE", "POST", "PUT"} {
			for _, e := range entries {
				if e.method == method {
					if e.out, e.err = s.write(wctx, tx, e, resolved); e.err != nil {
						return entryError(e, e.err)
					}
				}
			}
		}
		if err := s.settleBatch(wctx, tx); err != nil {
			return err
		}
		return s.auditBatch(ctx, tx, audit)
	})
	if err != nil {
		return err
	}
	for _, e := range entries {
		if e.method == "GET" {
			if e.result, e.err = s.get(ctx, e, base); e.err != nil {
				return entryError(e, e.err)
			}
		}
	}
	return nil
}

// entryError prefixes an entry's error with its position, keeping its code.
func entryError(e *entry, err error) error {
	code := ErrorCode(err)
	if code == EInternal {
		return err
	}
	out := &Error{Code: code, Message: fmt.Sprintf("%s: %s", e.path(), ErrorMessage(err))}
	for _, is := range ErrorIssues(err) {
		is.Diagnostics = e.path() + ": " + is.Diagnostics
		if len(is.Expression) == 0 {
			is.Expression = []string{e.path()}
		}
		out.Issues = append(out.Issues, is)
	}
	return out
}

// assignIDs gives every POST entry a new id and maps each fullUrl to the
// "Type/id" it will have; duplicate targets are an error (transaction.html).
func (s *Service) assignIDs(entries []*entry) (map[string]string, error) {
	ids := map[string]string{}
	seen := map[string]int{}
	for _, e := range entries {
		if e.method == "POST" {
			e.id = s.newID()
		}
		if e.id == "" || e.method == "GET" {
			continue
		}
		key := e.typ + "/" + e.id
		if j, dup := seen[key]; dup {
			return nil, Invalid(EInvalid, "invalid", e.path(), "%s is the target of entries %d and %d", key, j, e.index)
		}
		seen[key] = e.index
		if e.fullURL != "" {
			ids[e.fullURL] = key
		}
	}
	return ids, nil
}

// resolveConditional finds the targets of conditional creates and updates
// inside tx, so that references to their fullUrls point at the right id.
func (s *Service) resolveConditional(ctx context.Context, tx Tx, entries []*entry, resolved map[string]string) error {
	for _, e := range entries {
		criteria := ""
		switch {
		case e.method == "POST" && e.ifNoneExist != "":
			criteria = e.ifNoneExist
		case e.method == "PUT" && e.id == "":
			criteria = e.rawQuery
		default:
			continue
		}
		q, err := parseCriteria(e.typ, criteria, "criteria")
		if err != nil {
			return entryError(e, err)
		}
		found, err := s.match(ctx, tx, e.typ, q, "conditional criteria")
		if err != nil {
			return entryError(e, err)
		}
		if found != nil && e.fullURL != "" {
			resolved[e.fullURL] = e.typ + "/" + found.ID
		}
	}
	return nil
}

// refSite is one Reference.reference inside an entry's resource that needs
// resolving, with its original text (kept so a retried transaction resolves again).
type refSite struct {
	entry    *entry
	holder   map[string]any
	original string
}

func collectRefs(entries []*entry) []refSite {
	var sites []refSite
	for _, e := range entries {
		if e.res != nil {
			walkRefs(e.res, func(holder map[string]any, ref string) {
				if strings.HasPrefix(ref, "urn:") || strings.Contains(ref, "?") {
					sites = append(sites, refSite{entry: e, holder: holder, original: ref})
				}
			})
		}
	}
	return sites
}

// walkRefs calls fn for every object holding a string "reference".
func walkRefs(v any, fn func(holder map[string]any, ref string)) {
	switch t := v.(type) {
	case map[string]any:
		if ref, ok := t["reference"].(string); ok {
			fn(t, ref)
		}
		for k, child := range t {
			if k != "contained" {
				walkRefs(child, fn)
			}
		}
	case []any:
		for _, child := range t {
			walkRefs(child, fn)
		}
	}
}

// rewriteRefs replaces urn: references with the ids their entries get, and
// conditional references (Type?criteria) with the one resource they match.
func (s *Service) rewriteRefs(ctx context.Context, tx Tx, sites []refSite, resolved map[string]string) error {
	for _, site := range sites {
		if target, ok := resolved[site.original]; ok {
			site.holder["reference"] = target
			continue
		}
		typ, query, conditional := strings.Cut(site.original, "?")
		if !conditional {
			return entryError(site.entry, Invalid(EInvalid, "invalid", site.entry.path()+".resource",
				"reference %q does not resolve to a fullUrl of this transaction", site.original))
		}
		if !IsType(typ) {
			return entryError(site.entry, Invalid(EInvalid, "invalid", site.entry.path()+".resource",
				"conditional reference %q names an unknown type", site.original))
		}
		q, err := parseCriteria(typ, query, "conditional reference")
		if err != nil {
			return entryError(site.entry, err)
		}
		found, err := s.match(ctx, tx, typ, q, "conditional reference")
		if err == nil && found == nil {
			err = Errorf(EPrecondition, "conditional reference %q matches no %s", site.original, typ)
		}
		if err != nil {
			return entryError(site.entry, err)
		}
		site.holder["reference"] = typ + "/" + found.ID
	}
	return nil
}

// write carries out one DELETE, POST or PUT entry inside tx.
func (s *Service) write(ctx context.Context, tx Tx, e *entry, resolved map[string]string) (*Outcome, error) {
	switch {
	case e.method == "DELETE" && e.id != "":
		return s.DeleteTx(ctx, tx, e.typ, e.id)
	case e.method == "DELETE":
		found, err := s.match(ctx, tx, e.typ, e.query, "conditional delete")
		if err != nil || found == nil {
			return &Outcome{NoChange: true}, err
		}
		return s.DeleteTx(ctx, tx, e.typ, found.ID)
	case e.method == "POST":
		return s.createTx(ctx, tx, e.typ, e.id, e.res, e.ifNoneExist, e.keys)
	case e.id != "":
		return s.updateTx(ctx, tx, e.typ, e.id, e.res, e.ifMatch, e.keys)
	default:
		return s.conditionalUpdateTx(ctx, tx, e.typ, e.query, e.res, e.ifMatch, s.newID(), e.keys)
	}
}

// get carries out a GET entry: read, vread or search.
func (s *Service) get(ctx context.Context, e *entry, base string) (map[string]any, error) {
	var r *Resource
	var err error
	switch {
	case e.id == "":
		_, res, err := s.Search(ctx, e.typ, e.query, false)
		if err != nil {
			return nil, err
		}
		return map[string]any{"resourceType": "Bundle", "type": "searchset", "total": res.Total, "entry": searchEntries(res, base)}, nil
	case e.version > 0:
		r, err = s.VRead(ctx, e.typ, e.id, e.version)
	default:
		r, err = s.Read(ctx, e.typ, e.id)
	}
	if err != nil {
		return nil, err
	}
	return DecodeStored(r)
}

func searchEntries(res *SearchResult, base string) []any {
	var out []any
	for _, r := range res.Matches {
		if m, err := DecodeStored(r); err == nil {
			out = append(out, map[string]any{"fullUrl": base + "/" + r.Type + "/" + r.ID, "resource": m, "search": map[string]any{"mode": "match"}})
		}
	}
	return out
}

// DecodeStored decodes the body of a stored resource version.
func DecodeStored(r *Resource) (map[string]any, error) {
	if r.Body == nil {
		return nil, Errorf(EGone, "%s/%s version %d is a deletion", r.Type, r.ID, r.VersionID)
	}
	m, err := fhir.DecodeStored(r.Body)
	if err != nil {
		return nil, Internal(fmt.Errorf("stored %s/%s is not valid JSON: %w", r.Type, r.ID, err))
	}
	return m, nil
}

// batchWorkers bounds how many batch entries run at once; concurrent entries
// share commits on SQLite.
const batchWorkers = 8

// batch runs every entry on its own; failures become entry outcomes.
func (s *Service) batch(ctx context.Context, entries []*entry, base string) {
	var wg sync.WaitGroup
	sem := make(chan struct{}, batchWorkers)
	for _, e := range entries {
		if e.err != nil {
			continue
		}
		wg.Add(1)
		sem <- struct{}{}
		go func(e *entry) {
			defer func() { <-sem; wg.Done() }()
			e.out, e.err, e.result = s.batchOne(ctx, e, base)
		}(e)
	}
	wg.Wait()
}

func (s *Service) batchOne(ctx context.Context, e *entry, base string) (*Outcome, error, map[string]any) {
	if e.method == "GET" {
		m, err := s.get(ctx, e, base)
		return nil, err, m
	}
	if e.method == "POST" {
		e.id = s.newID()
	}
	var out *Outcome
	err := s.Store.Write(ctx, func(tx Tx) (err error) {
		out, err = s.write(ctx, tx, e, nil)
		return err
	})
	return out, err, nil
}

// prepare begins a batch of n records (Linker.Prepare), record(i) giving
// the type and match index of the i-th (none: not a record to write), and
// returns the context its writes run in.
func (s *Service) prepare(ctx context.Context, tx Tx, n int, record func(i int) (string, MatchIndex)) (context.Context, error) {
	if s.Link == nil {
		return ctx, nil
	}
	batch := make([]*Write, 0, n)
	for i := 0; i < n; i++ {
		if typ, ix := record(i); len(ix.Keys) > 0 {
			batch = append(batch, &Write{Type: typ, Index: ix})
		}
	}
	return s.Link.Prepare(ctx, tx, batch)
}

// settleBatch ends the batch begun in ctx (Linker.Settle).
func (s *Service) settleBatch(ctx context.Context, tx Tx) error {
	if s.Link == nil {
		return nil
	}
	return s.Link.Settle(ctx, tx)
}

// prepareKeys computes the blocking keys of every POST and PUT entry on all
// cores before the transaction starts.
func (s *Service) prepareKeys(entries []*entry) {
	s.indexAll(len(entries), func(i int) {
		if e := entries[i]; e.err == nil && e.res != nil {
			e.keys = s.writer().Index(e.typ, e.res)
		}
	})
}

// indexAll runs index(i) for i in [0, n) on all cores, when the service
// computes blocking keys at all: the work stays off SQLite's single writer.
func (s *Service) indexAll(n int, index func(i int)) {
	if s.writer().MatchIndex == nil {
		return
	}
	workers := runtime.GOMAXPROCS(0)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := w; i < n; i += workers {
				index(i)
			}
		}(w)
	}
	wg.Wait()
}
