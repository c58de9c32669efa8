package sqlstore

import (
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"time"

	"gorm.io/gorm"

	"idem/registry"
)

const selectSearch = `SELECT r.pk, r.type, r.id, r.version, r.updated, r.deleted, v.body,
	r.sort_family, r.sort_given, r.sort_name, r.sort_birth
	FROM resources r JOIN resource_versions v ON v.rid = r.pk AND v.version = r.version`

// row is a scanned resource with what paging needs.
type row struct {
	pk   int64
	res  *registry.Resource
	sort map[string]string
}

// Search runs q: a count, one page in keyset order, and the includes.
func (s *Store) Search(ctx context.Context, q *registry.Query) (*registry.SearchResult, error) {
	db := s.read.WithContext(ctx)
	b := newBuilder(q.Type)
	if err := b.where(q.Clauses); err != nil {
		return nil, err
	}
	res := &registry.SearchResult{Total: -1, Self: q.Page}
	if !q.NoTotal || q.Summary == "count" {
		if err := db.Raw("SELECT COUNT(*) FROM resources r WHERE "+b.sql(), b.args...).Scan(&res.Total).Error; err != nil {
			return nil, err
		}
	}
	if q.Summary == "count" || q.Count == 0 {
		return res, nil
	}
	rows, err := s.page(db, q, b, res)
	if err != nil {
		return nil, err
	}
	for _, r := range rows {
		res.Matches = append(res.Matches, r.res)
	}
	res.Included, err = s.includes(db, q, rows)
	return res, err
}

// cursor is the position a next/prev link continues from.
type cursor struct {
	Back bool     `json:"b,omitempty"`
	Vals []string `json:"v"`
	PK   int64    `json:"k"`
}

func encodeCursor(c cursor) string {
	data, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(data)
}

func decodeCursor(s string, nsort int) (*cursor, error) {
	var c cursor
	data, err := base64.RawURLEncoding.DecodeString(s)
	if err == nil {
		err = json.Unmarshal(data, &c)
	}
	if err != nil || len(c.Vals) != nsort {
		return nil, registry.Invalid(registry.EInvalid, "invalid", "_cursor", "the paging cursor is not valid for this search")
	}
	return &c, nil
}

var sortColumns = map[string]string{
	"_lastUpdated": "r.updated", "family": "r.sort_family", "given": "r.sort_given",
	"name": "r.sort_name", "birthdate": "r.sort_birth",
}

// pageSQL is the query of the page of q after cursor cur (nil: the first).
func pageSQL(q *registry.Query, b *builder, cur *cursor) (string, []any) {
	back := cur != nil && cur.Back
	where, args := b.sql(), slices.Clone(b.args)
	if cur != nil {
		kc, kargs := keyset(q.Sort, cur)
		where += " AND " + kc
		args = append(args, kargs...)
	}
	return selectSearch + " WHERE " + where + " ORDER BY " + orderBy(q.Sort, back) + " LIMIT ?", append(args, q.Count+1)
}

// page fetches one page in (sort..., pk) order, continuing from q.Page.
func (s *Store) page(db *gorm.DB, q *registry.Query, b *builder, res *registry.SearchResult) ([]row, error) {
	var cur *cursor
	if q.Page != "" {
		c, err := decodeCursor(q.Page, len(q.Sort))
		if err != nil {
			return nil, err
		}
		cur = c
	}
	back := cur != nil && cur.Back
	query, args := pageSQL(q, b, cur)
	rows, err := scanRows(db.Raw(query, args...))
	if err != nil {
		return nil, err
	}
	more := len(rows) > q.Count
	if more {
		rows = rows[:q.Count]
	}
	if back {
		slices.Reverse(rows)
	}
	if len(rows) > 0 {
		first, last := rows[0], rows[len(rows)-1]
		if (!back && more) || back {
			res.Next = encodeCursor(position(q.Sort, last, false))
		}
		if (back && more) || (!back && cur != nil) {
			res.Prev = encodeCursor(position(q.Sort, first, true))
		}
	}
	return rows, nil
}

func position(sort []registry.SortField, r row, back bool) cursor {
	c := cursor{Back: back, PK: r.pk, Vals: make([]string, len(sort))}
	for i, f := range sort {
		c.Vals[i] = r.sort[f.Name]
	}
	return c
}

func orderBy(sort []registry.SortField, back bool) string {
	var parts []string
	for _, f := range sort {
		parts = append(parts, sortColumns[f.Name]+dir(f.Desc != back))
	}
	return strings.Join(append(parts, "r.pk"+dir(back)), ", ")
}

func dir(desc bool) string {
	if desc {
		return " DESC"
	}
	return " ASC"
}

// keyset returns the condition "after cursor c in this order" (or before it,
// for a backwards cursor): (s1 > v1) OR (s1 = v1 AND s2 > v2) ... OR (all = AND pk > k).
func keyset(sort []registry.SortField, c *cursor) (string, []any) {
	var ors []string
	var args []any
	for i := 0; i <= len(sort); i++ {
		var ands []string
		for j := 0; j < i; j++ {
			ands = append(ands, sortColumns[sort[j].Name]+" = ?")
			args = append(args, sortArg(sort[j].Name, c.Vals[j]))
		}
		if i < len(sort) {
			ands = append(ands, sortColumns[sort[i].Name]+cmpOp(sort[i].Desc != c.Back)+"?")
			args = append(args, sortArg(sort[i].Name, c.Vals[i]))
		} else {
			ands = append(ands, "r.pk"+cmpOp(c.Back)+"?")
			args = append(args, c.PK)
		}
		ors = append(ors, "("+strings.Join(ands, " AND ")+")")
	}
	return "(" + strings.Join(ors, " OR ") + ")", args
}

func cmpOp(desc bool) string {
	if desc {
		return " < "
	}
	return " > "
}

func sortArg(name, v string) any {
	if name == "_lastUpdated" {
		n, _ := strconv.ParseInt(v, 10, 64)
		return n
	}
	return v
}

// scanRows scans rows of selectSearch, keeping the sort values for paging.
func scanRows(q *gorm.DB) ([]row, error) { return scan(q, true) }

// scanResources scans rows of selectCurrent and selectVersion.
func scanResources(q *gorm.DB) ([]row, error) { return scan(q, false) }

func scan(q *gorm.DB, sorted bool) ([]row, error) {
	rs, err := q.Rows()
	if err != nil {
		return nil, err
	}
	return scanSQL(rs, sorted)
}

func scanSQL(rs *sql.Rows, sorted bool) ([]row, error) {
	defer rs.Close()
	var out []row
	for rs.Next() {
		var r row
		var res registry.Resource
		var updated int64
		var fam, giv, name, birth string
		dest := []any{&r.pk, &res.Type, &res.ID, &res.VersionID, &updated, &res.Deleted, &res.Body}
		if sorted {
			dest = append(dest, &fam, &giv, &name, &birth)
		}
		if err := rs.Scan(dest...); err != nil {
			return nil, err
		}
		res.LastUpdated = time.UnixMicro(updated).UTC()
		r.res = &res
		if sorted {
			r.sort = map[string]string{"_lastUpdated": strconv.FormatInt(updated, 10), "family": fam, "given": giv, "name": name, "birthdate": birth}
		}
		out = append(out, r)
	}
	return out, rs.Err()
}

// maxIncluded bounds the resources one page may pull in with _revinclude.
const maxIncluded = 1000

func (s *Store) includes(db *gorm.DB, q *registry.Query, rows []row) ([]*registry.Resource, error) {
	if len(rows) == 0 || len(q.Include)+len(q.RevInclude) == 0 {
		return nil, nil
	}
	seen := map[string]bool{}
	pks := make([]int64, len(rows))
	refs := make([]string, len(rows))
	for i, r := range rows {
		pks[i], refs[i] = r.pk, r.res.Type+"/"+r.res.ID
		seen[refs[i]] = true
	}
	var out []*registry.Resource
	add := func(found []row) {
		for _, r := range found {
			if key := r.res.Type + "/" + r.res.ID; !seen[key] {
				seen[key] = true
				out = append(out, r.res)
			}
		}
	}
	for _, inc := range q.Include {
		var targets []string
		if err := db.Raw(`SELECT DISTINCT target FROM idx_ref WHERE rid IN ? AND param IN ?`, pks, inc.Param.Codes).Scan(&targets).Error; err != nil {
			return nil, err
		}
		found, err := s.byRefs(db, targets, inc.Target)
		if err != nil {
			return nil, err
		}
		add(found)
	}
	for _, inc := range q.RevInclude {
		found, err := scanResources(db.Raw(selectCurrent+` WHERE r.type = ? AND r.deleted = ? AND r.pk IN
			(SELECT rid FROM idx_ref WHERE param IN ? AND target IN ?) ORDER BY r.pk LIMIT ?`, inc.Source, false, inc.Param.Codes, refs, maxIncluded))
		if err != nil {
			return nil, err
		}
		add(found)
	}
	return out, nil
}

// byRefs reads the current, not deleted resources named by "Type/id" references.
func (s *Store) byRefs(db *gorm.DB, refs []string, onlyType string) ([]row, error) {
	byType := map[string][]string{}
	for _, ref := range refs {
		r, err := registry.ParseRef(ref)
		if err == nil && (onlyType == "" || r.Type == onlyType) {
			byType[r.Type] = append(byType[r.Type], r.ID)
		}
	}
	var out []row
	for typ, ids := range byType {
		found, err := scanResources(db.Raw(selectCurrent+` WHERE r.type = ? AND r.id IN ? AND r.deleted = ?`, typ, ids, false))
		if err != nil {
			return nil, err
		}
		out = append(out, found...)
	}
	return out, nil
}

func itoa64(n int64) string { return strconv.FormatInt(n, 10) }
