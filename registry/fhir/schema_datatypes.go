package fhir

// The R4 (4.0.1) datatypes the validator knows element by element. Open
// types that are not listed here are accepted opaquely (see opaqueTypes).

// quantityElems are the elements of Quantity and its specialisations.
var quantityElems = []string{
	"value decimal 0..1",
	"comparator code 0..1 QuantityComparator",
	"unit string 0..1",
	"system uri 0..1",
	"code code 0..1",
}

var datatypeTables = []tableSpec{
	{name: "Element", base: "Element"},
	{name: "Extension", elems: []string{
		"id string 0..1 attr",
		"extension Extension 0..*",
		"url uri 1..1 attr",
		"value[x] * 0..1",
	}},
	{name: "Coding", base: "Element", elems: []string{
		"system uri 0..1",
		"version string 0..1",
		"code code 0..1",
		"display string 0..1",
		"userSelected boolean 0..1",
	}},
	{name: "CodeableConcept", base: "Element", elems: []string{
		"coding Coding 0..*",
		"text string 0..1",
	}},
	{name: "Identifier", base: "Element", elems: []string{
		"use code 0..1 IdentifierUse",
		"type CodeableConcept 0..1",
		"system uri 0..1",
		"value string 0..1",
		"period Period 0..1",
		"assigner Reference 0..1",
	}},
	{name: "HumanName", base: "Element", elems: []string{
		"use code 0..1 NameUse",
		"text string 0..1",
		"family string 0..1",
		"given string 0..*",
		"prefix string 0..*",
		"suffix string 0..*",
		"period Period 0..1",
	}},
	{name: "Address", base: "Element", elems: []string{
		"use code 0..1 AddressUse",
		"type code 0..1 AddressType",
		"text string 0..1",
		"line string 0..*",
		"city string 0..1",
		"district string 0..1",
		"state string 0..1",
		"postalCode string 0..1",
		"country string 0..1",
		"period Period 0..1",
	}},
	{name: "ContactPoint", base: "Element", elems: []string{
		"system code 0..1 ContactPointSystem",
		"value string 0..1",
		"use code 0..1 ContactPointUse",
		"rank positiveInt 0..1",
		"period Period 0..1",
	}},
	{name: "Period", base: "Element", elems: []string{
		"start dateTime 0..1",
		"end dateTime 0..1",
	}},
	{name: "Reference", base: "Element", elems: []string{
		"reference string 0..1",
		"type uri 0..1",
		"identifier Identifier 0..1",
		"display string 0..1",
	}},
	{name: "Quantity", base: "Element", elems: quantityElems},
	{name: "Age", base: "Element", elems: quantityElems},
	{name: "Count", base: "Element", elems: quantityElems},
	{name: "Distance", base: "Element", elems: quantityElems},
	{name: "Duration", base: "Element", elems: quantityElems},
	{name: "SimpleQuantity", base: "Element", elems: []string{
		"value decimal 0..1",
		"unit string 0..1",
		"system uri 0..1",
		"code code 0..1",
	}},
	{name: "Range", base: "Element", elems: []string{
		"low SimpleQuantity 0..1",
		"high SimpleQuantity 0..1",
	}},
	{name: "Ratio", base: "Element", elems: []string{
		"numerator Quantity 0..1",
		"denominator Quantity 0..1",
	}},
	{name: "Attachment", base: "Element", elems: []string{
		"contentType code 0..1",
		"language code 0..1",
		"data base64Binary 0..1",
		"url url 0..1",
		"size unsignedInt 0..1",
		"hash base64Binary 0..1",
		"title string 0..1",
		"creation dateTime 0..1",
	}},
	{name: "Annotation", base: "Element", elems: []string{
		"author[x] Reference|string 0..1",
		"time dateTime 0..1",
		"text markdown 1..1",
	}},
	{name: "Money", base: "Element", elems: []string{
		"value decimal 0..1",
		"currency code 0..1",
	}},
	{name: "Meta", base: "Element", elems: []string{
		"versionId id 0..1",
		"lastUpdated instant 0..1",
		"source uri 0..1",
		"profile canonical 0..*",
		"security Coding 0..*",
		"tag Coding 0..*",
	}},
	{name: "Narrative", base: "Element", elems: []string{
		"status code 1..1 NarrativeStatus",
		"div xhtml 1..1 attr",
	}},
	{name: "Signature", base: "Element", elems: []string{
		"type Coding 1..*",
		"when instant 1..1",
		"who Reference 1..1",
		"onBehalfOf Reference 0..1",
		"targetFormat code 0..1",
		"sigFormat code 0..1",
		"data base64Binary 0..1",
	}},
	{name: "Timing", base: "BackboneElement", elems: []string{
		"event dateTime 0..*",
		"repeat Element 0..1",
		"repeat.bounds[x] Duration|Range|Period 0..1",
		"repeat.count positiveInt 0..1",
		"repeat.countMax positiveInt 0..1",
		"repeat.duration decimal 0..1",
		"repeat.durationMax decimal 0..1",
		"repeat.durationUnit code 0..1 UnitsOfTime",
		"repeat.frequency positiveInt 0..1",
		"repeat.frequencyMax positiveInt 0..1",
		"repeat.period decimal 0..1",
		"repeat.periodMax decimal 0..1",
		"repeat.periodUnit code 0..1 UnitsOfTime",
		"repeat.dayOfWeek code 0..* DaysOfWeek",
		"repeat.timeOfDay time 0..*",
		"repeat.when code 0..* EventTiming",
		"repeat.offset unsignedInt 0..1",
		"code CodeableConcept 0..1",
	}},
}

// valueSets are the codes of the required bindings we enforce.
var valueSets = map[string][]string{
	"AdministrativeGender":   {"male", "female", "other", "unknown"},
	"LinkType":               {"replaced-by", "replaces", "refer", "seealso"},
	"LocationStatus":         {"active", "suspended", "inactive"},
	"LocationMode":           {"instance", "kind"},
	"DaysOfWeek":             {"mon", "tue", "wed", "thu", "fri", "sat", "sun"},
	"IdentityAssuranceLevel": {"level1", "level2", "level3", "level4"},
	"LinkageType":            {"source", "alternate", "historical"},
	"BundleType": {"document", "message", "transaction", "transaction-response", "batch",
		"batch-response", "history", "searchset", "collection"},
	"HTTPVerb":        {"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH"},
	"SearchEntryMode": {"match", "include", "outcome"},
	"IssueSeverity":   {"fatal", "error", "warning", "information"},
	"IssueType": {"invalid", "structure", "required", "value", "invariant", "security", "login",
		"unknown", "expired", "forbidden", "suppressed", "processing", "not-supported", "duplicate",
		"multiple-matches", "not-found", "deleted", "too-long", "code-invalid", "extension",
		"too-costly", "business-rule", "conflict", "transient", "lock-error", "no-store",
		"exception", "timeout", "incomplete", "throttled", "informational"},
	"IdentifierUse":      {"usual", "official", "temp", "secondary", "old"},
	"NameUse":            {"usual", "official", "temp", "nickname", "anonymous", "old", "maiden"},
	"AddressUse":         {"home", "work", "temp", "old", "billing"},
	"AddressType":        {"postal", "physical", "both"},
	"ContactPointSystem": {"phone", "fax", "email", "pager", "url", "sms", "other"},
	"ContactPointUse":    {"home", "work", "temp", "old", "mobile"},
	"QuantityComparator": {"<", "<=", ">=", ">"},
	"NarrativeStatus":    {"generated", "extensions", "additional", "empty"},
	"UnitsOfTime":        {"s", "min", "h", "d", "wk", "mo", "a"},
	"EventTiming": {"MORN", "MORN.early", "MORN.late", "NOON", "AFT", "AFT.early", "AFT.late",
		"EVE", "EVE.early", "EVE.late", "NIGHT", "PHS", "HS", "WAKE", "C", "CM", "CD", "CV",
		"AC", "ACM", "ACD", "ACV", "PC", "PCM", "PCD", "PCV"},

	"AuditEventAction":           {"C", "R", "U", "D", "E"},
	"AuditEventOutcome":          {"0", "4", "8", "12"},
	"AuditEventAgentNetworkType": {"1", "2", "3", "4", "5"},
}

// r4ResourceNames lists every resource type of FHIR R4 4.0.1.
const r4ResourceNames = `Account ActivityDefinition AdverseEvent AllergyIntolerance Appointment
AppointmentResponse AuditEvent Basic Binary BiologicallyDerivedProduct BodyStructure Bundle
CapabilityStatement CarePlan CareTeam CatalogEntry ChargeItem ChargeItemDefinition Claim
ClaimResponse ClinicalImpression CodeSystem Communication CommunicationRequest
CompartmentDefinition Composition ConceptMap Condition Consent Contract Coverage
CoverageEligibilityRequest CoverageEligibilityResponse DetectedIssue Device DeviceDefinition
DeviceMetric DeviceRequest DeviceUseStatement DiagnosticReport DocumentManifest DocumentReference
EffectEvidenceSynthesis Encounter Endpoint EnrollmentRequest EnrollmentResponse EpisodeOfCare
EventDefinition Evidence EvidenceVariable ExampleScenario ExplanationOfBenefit FamilyMemberHistory
Flag Goal GraphDefinition Group GuidanceResponse HealthcareService ImagingStudy Immunization
ImmunizationEvaluation ImmunizationRecommendation ImplementationGuide InsurancePlan Invoice Library
Linkage List Location Measure MeasureReport Media Medication MedicationAdministration
MedicationDispense MedicationKnowledge MedicationRequest MedicationStatement MedicinalProduct
MedicinalProductAuthorization MedicinalProductContraindication MedicinalProductIndication
MedicinalProductIngredient MedicinalProductInteraction MedicinalProductManufactured
MedicinalProductPackaged MedicinalProductPharmaceutical MedicinalProductUndesirableEffect
MessageDefinition MessageHeader MolecularSequence NamingSystem NutritionOrder Observation
ObservationDefinition OperationDefinition OperationOutcome Organization OrganizationAffiliation
Parameters Patient PaymentNotice PaymentReconciliation Person PlanDefinition Practitioner
PractitionerRole Procedure Provenance Questionnaire QuestionnaireResponse RelatedPerson
RequestGroup ResearchDefinition ResearchElementDefinition ResearchStudy ResearchSubject
RiskAssessment RiskEvidenceSynthesis Schedule SearchParameter ServiceRequest Slot Specimen
SpecimenDefinition StructureDefinition StructureMap Subscription Substance SubstanceNucleicAcid
SubstancePolymer SubstanceProtein SubstanceReferenceInformation SubstanceSourceMaterial
SubstanceSpecification SupplyDelivery SupplyRequest Task TerminologyCapabilities TestReport
TestScript ValueSet VerificationResult VisionPrescription`
