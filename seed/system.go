package seed

import (
	"maps"
	"slices"
)

// FHIR resource types the generator writes.
const (
	TypePatient      = "Patient"
	TypePractitioner = "Practitioner"
	TypeLocation     = "Location"
)

// Shared identifier systems: the ones several source systems carry.
const (
	SystemSSN = "http://hl7.org/fhir/sid/us-ssn"
	SystemNPI = "http://hl7.org/fhir/sid/us-npi"
	// SystemOrganization identifies the health systems that manage locations.
	SystemOrganization = "http://facilities.example.org/organization-id"
)

// System is one source system of the synthetic network: it keeps its own
// copies of the people and places it deals with, under its own record
// numbers.
type System struct {
	Name string // human-readable, e.g. "St Mary's Health EHR"
	URI  string // Record.System and every resource's meta.source
	// Identifiers maps each resource type the system holds to the
	// identifier system its local record numbers are issued in.
	Identifiers map[string]string
}

// Types lists the resource types the system holds, sorted.
func (s System) Types() []string { return slices.Sorted(maps.Keys(s.Identifiers)) }

// Holds reports whether the system keeps records of resource type typ.
func (s System) Holds(typ string) bool { _, ok := s.Identifiers[typ]; return ok }

// Indexes into systems.
const (
	sysEHR = iota
	sysLab
	sysGP
	sysHR
	sysFacility
	numSystems
)

// The hospital's OIDs sit under HL7's documentation arc
// (2.16.840.1.113883.19), which exists for examples like this one.
var systems = [numSystems]System{
	sysEHR: {Name: "St Mary's Health EHR", URI: "http://ehr.stmarys.example.org", Identifiers: map[string]string{
		TypePatient:      "urn:oid:2.16.840.1.113883.19.5.1",
		TypePractitioner: "urn:oid:2.16.840.1.113883.19.5.2",
		TypeLocation:     "urn:oid:2.16.840.1.113883.19.5.3",
	}},
	sysLab: {Name: "Northside Clinical Laboratory", URI: "http://lis.northside-lab.example.org", Identifiers: map[string]string{
		TypePatient: "http://lis.northside-lab.example.org/patient-number",
	}},
	sysGP: {Name: "Riverside Family Practice", URI: "http://emr.riverside-fp.example.org", Identifiers: map[string]string{
		TypePatient: "http://emr.riverside-fp.example.org/patient-id",
	}},
	sysHR: {Name: "St Mary's Health HR", URI: "http://hr.stmarys.example.org", Identifiers: map[string]string{
		TypePractitioner: "http://hr.stmarys.example.org/employee-id",
	}},
	sysFacility: {Name: "Regional Facility Registry", URI: "http://facilities.example.org", Identifiers: map[string]string{
		TypeLocation: "http://facilities.example.org/facility-id",
	}},
}

// Systems returns the source systems of the network (fresh copies: callers
// may modify them).
func Systems() []System {
	out := make([]System, numSystems)
	for i, s := range systems {
		s.Identifiers = maps.Clone(s.Identifiers)
		out[i] = s
	}
	return out
}

// patientStyle is how one system records patients: its data-entry habits
// and which fields it collects. These differences are the formatting
// differences real registries meet, so they apply to every record of the
// system, not at random.
type patientStyle struct {
	legacy   float64 // share of records migrated from a legacy system: capitals, no diacritics
	phone    int     // phone format (see formatPhone)
	zipPlus4 bool    // ZIP+4 postal codes where known
	ssn      float64 // share of records carrying the SSN
	address  float64 // share with an address
	phoneSet float64 // share with a phone number
	email    float64 // share with an email address
	middle   float64 // share keeping the middle name in full (else an initial or nothing)
	nickname float64 // share registered under the name the patient goes by
	oldAddr  float64 // share of movers' records that keep the old address as use=old
	maiden   float64 // share of married women's records that keep the maiden name
}

var patientStyles = [numSystems]patientStyle{
	sysEHR: {phone: phoneParens, ssn: 0.7, address: 0.97, phoneSet: 0.9, email: 0.45, middle: 0.7, nickname: 0.03, oldAddr: 0.3, maiden: 0.6},
	sysLab: {legacy: 0.4, phone: phoneDigits, zipPlus4: true, ssn: 0.25, address: 0.6, phoneSet: 0.7, middle: 0.2, nickname: 0.02},
	sysGP:  {phone: phoneDashes, ssn: 0.45, address: 0.95, phoneSet: 0.95, email: 0.7, middle: 0.4, nickname: 0.15, maiden: 0.2},
}
