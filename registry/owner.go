package registry

import (
	"context"
)

// StoredSource returns the meta.source of the record typ/id as stored,
// read inside tx so that it is the version a write replaces: the record's
// owner is the client whose system wrote it. A deleted record keeps the
// source of its last version before the deletion. found is false for a
// record never stored; source is "" for one stored without meta.source.
func StoredSource(ctx context.Context, tx Tx, typ, id string) (source string, found bool, err error) {
	r, err := tx.Read(ctx, typ, id)
	switch {
	case ErrorCode(err) == ENotFound:
		return "", false, nil
	case err != nil:
		return "", false, err
	}
	// A deletion follows a version with a body (deleting a deleted record
	// stores nothing), but an update-as-create may follow a deletion.
	for r.Deleted && r.VersionID > 1 {
		if r, err = tx.ReadVersion(ctx, typ, id, r.VersionID-1); err != nil {
			return "", true, err
		}
	}
	if r.Body == nil {
		return "", true, nil
	}
	m, err := decodeJSON(r.Body, true)
	if err != nil {
		return "", true, Internal(err)
	}
	meta, _ := m["meta"].(map[string]any)
	source, _ = meta["source"].(string)
	return source, true, nil
}
