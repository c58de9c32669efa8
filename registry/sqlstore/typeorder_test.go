package sqlstore

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"gorm.io/gorm"

	"idem/registry"
)

// A page of one type in the default order (pk), after a cursor, is a range
// of an index on SQLite: no sort of every record of the type per page, as
// with only the (type, updated) index (over four minutes to page through
// 1,000,000 Patients' ids). So are StoredRecords' pages.
func TestTypePageIsAnIndexRange(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(t.TempDir(), "idem.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	q := &registry.Query{Type: registry.TypePatient, Count: 1000}
	b := newBuilder(q.Type)
	if err := b.where(nil); err != nil {
		t.Fatal(err)
	}
	page, args := pageSQL(q, b, &cursor{PK: 500})
	for name, query := range map[string]string{
		"search page":    page,
		"stored records": selectCandidateLean + ` WHERE r.type = ? AND r.deleted = ? AND r.pk > ? ORDER BY r.pk LIMIT ?`,
	} {
		qargs := args
		if name == "stored records" {
			qargs = []any{registry.TypePatient, false, 500, 2000}
		}
		var plan []string
		err := s.WriteDB(ctx, func(db *gorm.DB) error {
			rows, err := db.Raw("EXPLAIN QUERY PLAN "+query, qargs...).Rows()
			if err != nil {
				return err
			}
			defer rows.Close()
			for rows.Next() {
				var id, parent, unused int
				var detail string
				if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
					return err
				}
				plan = append(plan, detail)
			}
			return rows.Err()
		})
		if err != nil {
			t.Fatal(err)
		}
		all := strings.Join(plan, "; ")
		if strings.Contains(all, "TEMP B-TREE") || !strings.Contains(all, "resources_type_pk") {
			t.Errorf("%s: %s", name, all)
		}
	}
}
