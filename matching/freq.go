package matching

// FrequencyTable is an in-memory Frequencies over a set of records, for
// training and evaluation; the registry keeps its own counts.
type FrequencyTable struct {
	columns []freqColumn
}

// freqColumn holds the value shares of one field of one type. Columns are
// few, so finding one by a scan hashes no string; only the value is hashed.
type freqColumn struct {
	typ, field string
	share      map[string]float64
}

// NewFrequencyTable counts, for every text field (names, line, city, postal
// code, organisation, …) and the position's key, the share of each type's
// records that hold each value.
func NewFrequencyTable(recs []*Record) Frequencies {
	t := &FrequencyTable{}
	totals := map[string]int{}
	for _, r := range recs {
		totals[r.Type]++
		for f := range numFeatures {
			if len(r.vals[f]) == 0 {
				continue
			}
			col := t.column(r.Type, featureNames[f], true)
			for _, v := range r.vals[f] { // values are distinct within a record
				col.share[v.norm]++
			}
		}
		if r.pos.ok {
			t.column(r.Type, "position", true).share[r.pos.key]++
		}
	}
	for i := range t.columns {
		c := &t.columns[i]
		for v, n := range c.share {
			c.share[v] = n / float64(totals[c.typ])
		}
	}
	return t
}

// column finds (or, with add, creates) the column of a type's field.
func (t *FrequencyTable) column(typ, field string, add bool) *freqColumn {
	for i := range t.columns {
		if c := &t.columns[i]; c.typ == typ && c.field == field {
			return c
		}
	}
	if !add {
		return nil
	}
	t.columns = append(t.columns, freqColumn{typ: typ, field: field, share: map[string]float64{}})
	return &t.columns[len(t.columns)-1]
}

// Frequency returns the share of the type's records that hold value in
// field, 0 when the table has not seen it.
func (t *FrequencyTable) Frequency(typ, field, value string) float64 {
	if c := t.column(typ, field, false); c != nil {
		return c.share[value]
	}
	return 0
}
