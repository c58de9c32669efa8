package matching

// ScoreCluster is the probability that a is the entity whose records are
// members — a golden record's records that a matched — judged against the
// cluster rather than one of its records: each field takes a's best
// agreement with any member (a person seen with a maiden name in one
// system and a new address in another agrees with the cluster on both),
// missing only when no member has the field, and the combined outcomes
// are then weighed once, as one pair's are: the prior counts once, a
// field weighed given the household is weighed so when the household
// agrees with any member, the twin signature is read off the combined
// fields, and a veto field caps the total only when it disagrees with
// every member. With one member it is Score.
//
// Weighing the combined outcomes, not summing each field's best weight,
// keeps dependent fields dependent: a family name agreeing with a member
// that has no address weighs its full weight, but beside the household
// agreeing with another member it weighs what a shared family name weighs
// inside one household; summed field by field, a son named after his
// father, living with him, took the family name's full weight from one
// record and the household's from another and joined his father's golden
// record.
func (m *Model) ScoreCluster(a *Record, members []*Record, tf Frequencies) float64 {
	if len(members) == 0 {
		return 0
	}
	t := m.pairType(a, members[0])
	if t == nil {
		return 0
	}
	var combined, out [maxFields]outcome
	for k, b := range members {
		if b.Type != a.Type {
			continue
		}
		m.compare(t, a, b, tf, &out)
		for i := range t.fields {
			if k == 0 || out[i].level > combined[i].level {
				combined[i] = out[i]
			}
		}
	}
	for i := range t.fields {
		combined[i].weight, combined[i].inHousehold, combined[i].inTwins = 0, false, false
		combined[i].capped, combined[i].derived = false, false
	}
	return probability(t.weigh(a, tf, &combined))
}

// JudgeCluster is the probability that a is the entity whose records are
// members — all of a golden record's records, not only those a matched —
// and the index of a member a veto field disagrees with (-1: none). It is
// ScoreCluster, capped below certain when any member vetoes: joining the
// golden record links a to every member, so a pair that is never linked
// automatically (two sites whose names clearly disagree) is not linked
// through a third record either. A record that matches one member only
// because that member lacks what the others hold (a branch's name and
// organisation without an address, matching two branches of one chain)
// scores against the cluster as it scores against the members that hold
// it.
func (m *Model) JudgeCluster(a *Record, members []*Record, tf Frequencies) (p float64, vetoedBy int) {
	p, vetoedBy = m.ScoreCluster(a, members, tf), -1
	for i, b := range members {
		if m.vetoes(a, b) {
			t := m.pairType(a, b)
			return min(p, probability(t.vetoWeight)), i
		}
	}
	return p, vetoedBy
}

// vetoes reports whether a veto field disagrees between a and b. False for
// records of different or unknown types.
func (m *Model) vetoes(a, b *Record) bool {
	t := m.pairType(a, b)
	if t == nil {
		return false
	}
	for i := range t.fields {
		if f := &t.fields[i]; f.veto && m.compareField(f, a, b).level == Different {
			return true
		}
	}
	return false
}
