package registry

import (
	"context"

	"idem/registry/fhir"
)

// StoredSource returns the meta.source of the stored version r that a
// write replaces (the pipeline read it inside the write's transaction, so
// no other write slips in between): the record's owner is the client whose
// system wrote it. A deleted record keeps the source of its last version
// before the deletion; "" for one stored without meta.source.
func StoredSource(ctx context.Context, tx Tx, r *Resource) (string, error) {
	// A deletion follows a version with a body (deleting a deleted record
	// stores nothing), but an update-as-create may follow a deletion.
	for r.Deleted && r.VersionID > 1 {
		var err error
		if r, err = tx.ReadVersion(ctx, r.Type, r.ID, r.VersionID-1); err != nil {
			return "", err
		}
	}
	if r.Body == nil {
		return "", nil
	}
	m, err := fhir.DecodeStored(r.Body)
	if err != nil {
		return "", Internal(err)
	}
	meta, _ := m["meta"].(map[string]any)
	source, _ := meta["source"].(string)
	return source, nil
}
