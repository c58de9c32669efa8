// Package registry is idem's domain: the FHIR resource types it serves,
// references between them (Ref), their search parameters and index rows, the
// interactions of the FHIR REST API (read, create, update, delete, search,
// history, bundles), links, audit and the one error type. The FHIR engine it
// relies on (JSON, R4 validation, dates, folding, OperationOutcome) is the
// subpackage fhir, whose reports it wraps into its Error. It imports nothing
// else of the project; storage adapters implement its Store interface.
package registry
