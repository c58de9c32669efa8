// Package seed generates idem's synthetic health network: the same real
// people, practitioners and facilities recorded by several source systems,
// each under its own record numbers and with the errors real data entry
// makes, plus the ground truth of which records describe whom.
//
// The systems (see Systems): a hospital EHR (Patients, Practitioners and
// Locations, OID-based identifiers), a laboratory (Patients with
// accession-style numbers, names in capitals in its legacy records), a GP
// practice (Patients, often under the name they go by, with their GP by
// NPI), an HR system (Practitioners with licences) and a facility registry
// (Locations). Some records carry the shared identifiers: SSNs for
// patients, NPIs and licence numbers for practitioners, the registry's
// facility id in EHR locations.
//
// Generate streams Records; each carries its Entity (the ground truth),
// never inside the resource. WriteNDJSON writes Patient.ndjson,
// Practitioner.ndjson and Location.ndjson with truth.csv,
// hard_negatives.csv and summary.json beside them.
//
// Generation is deterministic: a Config with its Seed always yields the
// same bytes (for the same embedded lists and nickname table). Entities are
// generated in groups of four, so families, twins and namesakes can share
// names, dates and addresses; each group and each record has its own PCG
// stream seeded from the Config seed and its index, so output streams in
// constant memory and does not depend on generation order. Identifiers
// (record numbers, SSNs, NPIs, licences) are keyed permutations of the
// entity index: unique without remembering the ones already used.
//
// The name frequency lists in data/ were written for idem from general
// knowledge of US naming; nicknames come from package matching's table.
package seed
