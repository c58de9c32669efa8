package linkage

import (
	"context"

	"idem/matching"
)

// Model returns the matching model in use now (the trained one once one is
// stored), for showing its grade thresholds and version.
func (m *Matcher) Model(ctx context.Context) *matching.Model { return m.models.Current(ctx) }
