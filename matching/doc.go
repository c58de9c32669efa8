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
//
// Fellegi-Sunter sums field weights as if fields were independent; for
// Patients three rules stop fields that depend on each other from counting
// one fact twice.
// The address and the phone are one "household" comparison (a household
// shares its address parts and home phone). Fields with u given the same
// household (the family name, a mobile number) are weighed by it when the
// household agrees: a father and his daughter share the family name because
// they share the household. And the twin signature — unrelated given names
// with the same family name and birth date — is weighed as one level whose u
// is the share of twin pairs, not the product of chance agreements.
//
// The prior, a share of all record pairs, depends on the registry's size:
// ForRegistry restates it for the number of records scored against, as
// Evaluate does; Train fits it to the records it is given.
package matching
