package matching

// ScoreCluster is the probability that a is the entity whose records are
// members — a golden record's records that a matched — judged against the
// cluster rather than one of its records: each field weighs a's best
// agreement with any member (a person seen with a maiden name in one
// system and a new address in another agrees with the cluster on both),
// the prior counts once, and a veto field caps the total only when it
// disagrees with every member. With one member it is Score.
func (m *Model) ScoreCluster(a *Record, members []*Record, tf Frequencies) float64 {
	if len(members) == 0 {
		return 0
	}
	t := m.pairType(a, members[0])
	if t == nil {
		return 0
	}
	var best [maxFields]float64
	var agrees [maxFields]bool // some member agrees beyond Different
	for k, b := range members {
		if b.Type != a.Type {
			continue
		}
		var out [maxFields]outcome
		m.compare(t, a, b, tf, &out)
		for i := range t.fields {
			if k == 0 || out[i].weight > best[i] {
				best[i] = out[i].weight
			}
			agrees[i] = agrees[i] || out[i].level != Different
		}
	}
	w := t.priorWeight
	veto := false
	for i := range t.fields {
		w += best[i]
		veto = veto || (t.fields[i].veto && !agrees[i])
	}
	if veto {
		w = min(w, t.vetoWeight)
	}
	return probability(w)
}
