// Package registry is idem's domain: the FHIR resource types it serves, their
// search parameters and index rows, validation, the interactions of the FHIR
// REST API (read, create, update, delete, search, history, bundles) and the
// one error type. It imports nothing else of the project; storage adapters
// implement its Store interface.
package registry
