// Package fhir is idem's FHIR R4 engine, kept apart from the registry's
// domain: a strict JSON parser and encoder for resources, R4 validation with
// the invariants idem checks, repeat limits, FHIR dates and instants as
// millisecond ranges, text folding for search, the value syntax of search
// parameters, and OperationOutcome building. It knows the specification, not
// the registry: it imports nothing else of the project, and it reports
// content that breaks FHIR as an *Error whose Issues name each element by a
// FHIRPath-style expression; the registry wraps that into its own error.
package fhir
