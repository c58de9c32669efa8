package seed

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// Summary counts what a generation produced: per type and system, how
// many records, duplicates and true pairs, which hard negatives and errors.
// It is the ground truth's shape, for evaluation reports and tests.
type Summary struct {
	// Entities counts the distinct real entities per type.
	Entities map[string]int `json:"entities"`
	// Records counts records per type and source system URI.
	Records map[string]map[string]int `json:"records"`
	// Duplicates counts, per type, records beyond the first of their entity.
	Duplicates map[string]int `json:"duplicates"`
	// WithinSystem counts, per type, records of an entity in a system that
	// already holds a record of it.
	WithinSystem map[string]int `json:"withinSystem"`
	// TruePairs counts, per type, the pairs of records of one entity: what
	// pairwise recall is measured against.
	TruePairs map[string]int `json:"truePairs"`
	// HardNegatives counts look-alike entity pairs per type and kind.
	HardNegatives map[string]map[string]int `json:"hardNegatives"`
	// Errors counts, per error kind, the records showing it.
	Errors map[string]int `json:"errors"`

	entity  string   // type and entity of the records being counted
	records int      // records of that entity so far
	systems []string // systems holding them
}

// Add counts one record. Records of one entity must come together, as
// Generate emits them.
func (s *Summary) Add(r Record) {
	s.init()
	if key := r.Type + "|" + r.Entity; key != s.entity {
		s.entity, s.records, s.systems = key, 0, s.systems[:0]
		s.Entities[r.Type]++
	}
	if s.Records[r.Type] == nil {
		s.Records[r.Type] = map[string]int{}
	}
	s.Records[r.Type][r.System]++
	if s.records > 0 {
		s.Duplicates[r.Type]++
		s.TruePairs[r.Type] += s.records
	}
	if slices.Contains(s.systems, r.System) {
		s.WithinSystem[r.Type]++
	} else {
		s.systems = append(s.systems, r.System)
	}
	s.records++
	for _, e := range r.Errors {
		s.Errors[e]++
	}
}

// AddHardNegative counts one hard negative.
func (s *Summary) AddHardNegative(h HardNegative) {
	s.init()
	if s.HardNegatives[h.Type] == nil {
		s.HardNegatives[h.Type] = map[string]int{}
	}
	s.HardNegatives[h.Type][h.Kind]++
}

func (s *Summary) init() {
	if s.Records != nil {
		return
	}
	s.Entities, s.Records, s.Duplicates = map[string]int{}, map[string]map[string]int{}, map[string]int{}
	s.WithinSystem, s.TruePairs, s.Errors = map[string]int{}, map[string]int{}, map[string]int{}
	s.HardNegatives = map[string]map[string]int{}
}

// Total is the number of records of all types.
func (s *Summary) Total() int {
	n := 0
	for _, bySystem := range s.Records {
		for _, c := range bySystem {
			n += c
		}
	}
	return n
}

// String is a one-line account per type, for command output:
// "Patient: 1000 entities, 1642 records (3 systems), 642 duplicates, 803 true pairs, 410 hard negatives".
func (s Summary) String() string {
	var b strings.Builder
	for _, typ := range slices.Sorted(maps.Keys(s.Entities)) {
		records, negatives := 0, 0
		for _, n := range s.Records[typ] {
			records += n
		}
		for _, n := range s.HardNegatives[typ] {
			negatives += n
		}
		if b.Len() > 0 {
			b.WriteString("; ")
		}
		fmt.Fprintf(&b, "%s: %d entities, %d records (%d systems), %d duplicates, %d true pairs, %d hard negatives",
			typ, s.Entities[typ], records, len(s.Records[typ]), s.Duplicates[typ], s.TruePairs[typ], negatives)
	}
	return b.String()
}
