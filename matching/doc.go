// Package matching compares FHIR Patient, Practitioner and Location resources
// and says how likely two of them describe the same real-world entity, and
// why. It is pure: no I/O, no clock, no global state that changes.
//
// Extract turns a resource into a Record of normalised values with their
// phonetic codes and q-grams computed once. A Model, built from Rules (an
// embedded, readable JSON file that a deployment may replace), compares two
// Records field by field to one level each (exact, close, similar, different,
// missing) and adds the Fellegi-Sunter weights log2(m/u) of those levels to a
// prior to give a match probability, a grade and per-field evidence. Keys
// gives the blocking keys under which candidates are looked up; Train
// re-estimates u from random pairs and m and the prior by
// expectation-maximisation, without labels; Evaluate measures a model
// against known truth.
package matching
