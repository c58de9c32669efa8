package registry

import "sort"

// Storage codes of index rows. Each (type, element group) has its own code so
// that an index lookup never scans another type's rows. Codes are persisted:
// never renumber one, only add.
const (
	codeIdentifier   = 1
	codeFamily       = 10
	codeGiven        = 11
	codeNameOther    = 12 // prefix, suffix, text of HumanName
	codeAddressLine  = 20 // line and text of Address
	codeAddressCity  = 21
	codeAddressPost  = 22
	codeAddressState = 23
	codeAddressCtry  = 24
	codePhone        = 30
	codeEmail        = 31
	codeTelecomOther = 32
	codeGender       = 40
	codeBirthdate    = 41
	codeActive       = 42
	codeLocName      = 50 // Location.name and alias
	codeLocType      = 51
	codeLocStatus    = 52
	codeLocPartOf    = 53
	codePersonLink   = 60
	codeLinkageItem  = 70
	codeLinkageSrc   = 71
	codeSource       = 80 // meta.source: the source system's URL of the record
	codeAuditType    = 90 // AuditEvent.type
	codeAuditSubtype = 91
	codeAuditAction  = 92
	codeAuditOutcome = 93
	codeAuditDate    = 94 // AuditEvent.recorded
	codeAuditAgent   = 95 // AuditEvent.agent.who.identifier
	codeAuditName    = 96 // AuditEvent.agent.name and agent.who.display
	codeAuditEntity  = 97 // AuditEvent.entity.what
)

// typeBase offsets storage codes per resource type.
var typeBase = map[string]int16{
	TypePatient: 100, TypePractitioner: 200, TypeLocation: 300, TypePerson: 400, TypeLinkage: 500,
	TypeAuditEvent: 600,
}

// Code returns the storage code of element group local for resource type typ.
func Code(typ string, local int16) int16 { return typeBase[typ] + local }

var searchParams = map[string]map[string]*SearchParam{}

func init() {
	for _, t := range Types {
		searchParams[t] = map[string]*SearchParam{}
		add(t, "_id", KindToken, nil, "Resource.id", "Logical id of the resource").Column = "id"
		add(t, "_lastUpdated", KindDate, nil, "Resource.meta.lastUpdated", "When the resource version last changed").Column = "updated"
		add(t, "_source", KindURI, []int16{codeSource}, "Resource.meta.source", "Where the resource comes from: the source system's URL of the record (identity translation)")
	}
	for _, t := range []string{TypePatient, TypePractitioner} {
		addPersonLike(t)
		add(t, "active", KindToken, []int16{codeActive}, t+".active", "Whether the record is in active use")
	}
	add(TypePatient, "birthdate", KindDate, []int16{codeBirthdate}, "Patient.birthDate", "The patient's date of birth")
	add(TypePatient, "email", KindToken, []int16{codeEmail}, "Patient.telecom.where(system='email')", "A value in an email contact")
	add(TypePatient, "phone", KindToken, []int16{codePhone}, "Patient.telecom.where(system='phone')", "A value in a phone contact")

	L := TypeLocation
	add(L, "identifier", KindToken, []int16{codeIdentifier}, "Location.identifier", "An identifier for the location")
	add(L, "name", KindString, []int16{codeLocName}, "Location.name | Location.alias", "A portion of the location's name or alias")
	addAddress(L, "Location.address")
	add(L, "type", KindToken, []int16{codeLocType}, "Location.type", "A code for the type of location")
	add(L, "status", KindToken, []int16{codeLocStatus}, "Location.status", "Searches for locations with a specific kind of status")
	add(L, "partof", KindReference, []int16{codeLocPartOf}, "Location.partOf", "A location of which this location is a part").Targets = []string{TypeLocation}

	P := TypePerson
	add(P, "identifier", KindToken, []int16{codeIdentifier}, "Person.identifier", "A person Identifier")
	add(P, "name", KindString, []int16{codeFamily, codeGiven, codeNameOther}, "Person.name", "A server defined search that may match any of the string fields in the HumanName")
	add(P, "birthdate", KindDate, []int16{codeBirthdate}, "Person.birthDate", "The person's date of birth")
	add(P, "gender", KindToken, []int16{codeGender}, "Person.gender", "The gender of the person")
	add(P, "link", KindReference, []int16{codePersonLink}, "Person.link.target", "Any link has this Patient, Person, RelatedPerson or Practitioner reference").Targets =
		[]string{TypePatient, TypePerson, "RelatedPerson", TypePractitioner}
	add(P, "patient", KindReference, []int16{codePersonLink}, "Person.link.target.where(resolve() is Patient)", "The Person links to this Patient").Targets = []string{TypePatient}
	add(P, "practitioner", KindReference, []int16{codePersonLink}, "Person.link.target.where(resolve() is Practitioner)", "The Person links to this Practitioner").Targets = []string{TypePractitioner}

	K := TypeLinkage
	add(K, "item", KindReference, []int16{codeLinkageItem}, "Linkage.item.resource", "Matches on any item in the Linkage").Targets = []string{TypeLocation, TypePatient, TypePractitioner, TypePerson}
	add(K, "source", KindReference, []int16{codeLinkageSrc}, "Linkage.item.resource.where(%context.type='source')", "Matches on any item in the Linkage with a type of 'source'").Targets = []string{TypeLocation, TypePatient, TypePractitioner, TypePerson}

	addAuditEvent()
}

// addAuditEvent adds the AuditEvent parameters of R4 that idem's events
// answer, plus agent-name.
func addAuditEvent() {
	A := TypeAuditEvent
	add(A, "type", KindToken, []int16{codeAuditType}, "AuditEvent.type", "Type/identifier of event")
	add(A, "subtype", KindToken, []int16{codeAuditSubtype}, "AuditEvent.subtype", "More specific type/id for the event")
	add(A, "action", KindToken, []int16{codeAuditAction}, "AuditEvent.action", "Type of action performed during the event (C R U D E)")
	add(A, "outcome", KindToken, []int16{codeAuditOutcome}, "AuditEvent.outcome", "Whether the event succeeded or failed (0 success, 4 minor failure such as a denial, 8 serious failure)")
	add(A, "date", KindDate, []int16{codeAuditDate}, "AuditEvent.recorded", "Time when the event was recorded")
	add(A, "agent", KindToken, []int16{codeAuditAgent}, "AuditEvent.agent.who.identifier",
		"Identifier of who participated, as system|value (a client's system URI, or https://idem.dev/fhir/users for stewards, and the name). "+
			"Deviation from R4, where agent is a reference: idem's agents are clients and users, not resources")
	add(A, "agent-name", KindString, []int16{codeAuditName}, "AuditEvent.agent.name | AuditEvent.agent.who.display", "Human friendly name for the agent")
	add(A, "entity", KindReference, []int16{codeAuditEntity}, "AuditEvent.entity.what", "Specific instance of resource").Targets =
		[]string{TypePatient, TypePractitioner, TypeLocation, TypePerson, TypeLinkage}
	add(A, "patient", KindReference, []int16{codeAuditEntity}, "AuditEvent.entity.what.where(resolve() is Patient)", "Identifier of the patient involved").Targets = []string{TypePatient}
}

func addPersonLike(t string) {
	add(t, "identifier", KindToken, []int16{codeIdentifier}, t+".identifier", "An identifier for the record")
	add(t, "name", KindString, []int16{codeFamily, codeGiven, codeNameOther}, t+".name", "A server defined search that may match any of the string fields in the HumanName")
	add(t, "family", KindString, []int16{codeFamily}, t+".name.family", "A portion of the family name")
	add(t, "given", KindString, []int16{codeGiven}, t+".name.given", "A portion of the given name")
	add(t, "gender", KindToken, []int16{codeGender}, t+".gender", "Gender of the person")
	add(t, "telecom", KindToken, []int16{codePhone, codeEmail, codeTelecomOther}, t+".telecom", "The value in any kind of telecom details")
	if t == TypePractitioner {
		add(t, "phone", KindToken, []int16{codePhone}, t+".telecom.where(system='phone')", "A value in a phone contact")
		add(t, "email", KindToken, []int16{codeEmail}, t+".telecom.where(system='email')", "A value in an email contact")
	}
	addAddress(t, t+".address")
}

func addAddress(t, path string) {
	add(t, "address", KindString, []int16{codeAddressLine, codeAddressCity, codeAddressPost, codeAddressState, codeAddressCtry}, path,
		"A server defined search that may match any of the string fields in the Address")
	add(t, "address-city", KindString, []int16{codeAddressCity}, path+".city", "A city specified in an address")
	add(t, "address-country", KindString, []int16{codeAddressCtry}, path+".country", "A country specified in an address")
	add(t, "address-postalcode", KindString, []int16{codeAddressPost}, path+".postalCode", "A postal code specified in an address")
	add(t, "address-state", KindString, []int16{codeAddressState}, path+".state", "A state specified in an address")
}

func add(typ, name string, kind ParamKind, local []int16, expr, desc string) *SearchParam {
	codes := make([]int16, len(local))
	for i, l := range local {
		codes[i] = Code(typ, l)
	}
	p := &SearchParam{Type: typ, Name: name, Kind: kind, Codes: codes, Expression: expr, Description: desc}
	searchParams[typ][name] = p
	return p
}

// LookupParam returns the search parameter name of resource type typ, or nil.
func LookupParam(typ, name string) *SearchParam { return searchParams[typ][name] }

// SearchParams returns the search parameters of typ sorted by name.
func SearchParams(typ string) []*SearchParam {
	out := make([]*SearchParam, 0, len(searchParams[typ]))
	for _, p := range searchParams[typ] {
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// SortParams lists the parameters _sort accepts.
var SortParams = []string{"_lastUpdated", "family", "given", "birthdate", "name"}

// SourceParamCode is the storage code of the meta.source index rows of typ
// (the identity translation), for stores that read them directly.
func SourceParamCode(typ string) int16 { return Code(typ, codeSource) }
