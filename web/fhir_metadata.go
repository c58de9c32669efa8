package web

import (
	"slices"

	"github.com/gofiber/fiber/v2"

	"idem/linkage"
	"idem/registry"
)

// handleMetadata answers the CapabilityStatement, which lists exactly the
// interactions, search parameters and includes this server implements.
func (s *Server) handleMetadata(c *fiber.Ctx) error {
	return s.sendJSON(c, fiber.StatusOK, s.capabilityStatement(c))
}

func (s *Server) capabilityStatement(c *fiber.Ctx) map[string]any {
	resources := make([]any, 0, len(registry.Types))
	for _, typ := range registry.Types {
		r := capabilityResource(typ)
		var ops []any
		if s.matcher != nil && linkage.Matchable(typ) {
			ops = append(ops, map[string]any{"name": "match", "definition": matchDefinition(typ)})
		}
		if s.linker != nil && linkage.Matchable(typ) {
			ops = append(ops, map[string]any{"name": "ihe-pix", "definition": pixOperationDefinition(typ)})
		}
		if s.bulk != nil && typ == registry.TypePatient {
			ops = append(ops, map[string]any{"name": "export", "definition": bulkDataIG + "/OperationDefinition/patient-export"})
		}
		if len(ops) > 0 {
			r["operation"] = ops
		}
		resources = append(resources, r)
	}
	resources = append(resources, s.exchangeCapabilities()...)
	rest := map[string]any{
		"mode":        "server",
		"resource":    resources,
		"interaction": []any{code("transaction"), code("batch")},
	}
	if s.linker != nil {
		rest["operation"] = mdmOperations()
	}
	pushOps, messaging := pushCapabilities(s.base(c))
	rest["operation"] = append(pushOps, registry.AsList(rest["operation"])...)
	if s.bulk != nil {
		rest["operation"] = append(registry.AsList(rest["operation"]), bulkOperations()...)
	}
	if s.auth != nil {
		rest["security"] = s.security(c)
	}
	cs := map[string]any{
		"resourceType": "CapabilityStatement",
		"status":       "active",
		"date":         registry.FormatInstant(s.cfg.Started),
		"publisher":    "idem",
		"kind":         "instance",
		"software":     map[string]any{"name": "idem", "version": s.cfg.Version},
		"implementation": map[string]any{
			"description": "idem FHIR R4 master data registry",
			"url":         s.base(c),
		},
		"fhirVersion": "4.0.1",
		"format":      []any{"application/fhir+json", "json"},
		"rest":        []any{rest},
		"messaging":   messaging,
	}
	if s.bulk != nil {
		cs["instantiates"] = []any{bulkDataIG + "/CapabilityStatement/bulk-data"}
	}
	return cs
}

// bulkDataIG is the canonical base of the Bulk Data Access IG (v2), whose
// $export idem implements (fhir_export.go).
const bulkDataIG = "http://hl7.org/fhir/uv/bulkdata"

// bulkOperations lists the system-level bulk operations: the IG's $export,
// and idem's $import (the IG defines no import operation; idem's takes an
// NDJSON body or a Parameters manifest of input URLs, fhir_import.go).
func bulkOperations() []any {
	return []any{
		map[string]any{"name": "export", "definition": bulkDataIG + "/OperationDefinition/export"},
		map[string]any{"name": "import", "definition": "https://idem.dev/fhir/OperationDefinition/import"},
	}
}

// matchDefinition names the OperationDefinition of $match: FHIR's own for
// Patient, idem's (same parameters) for Practitioner and Location.
func matchDefinition(typ string) string {
	if typ == registry.TypePatient {
		return "http://hl7.org/fhir/OperationDefinition/Patient-match"
	}
	return "https://idem.dev/fhir/OperationDefinition/" + typ + "-match"
}

// pixOperationDefinition names the OperationDefinition of $ihe-pix: IHE
// PIXm's for Patient, idem's (same parameters) for Practitioner and Location.
func pixOperationDefinition(typ string) string {
	if typ == registry.TypePatient {
		return pixDefinition
	}
	return "https://idem.dev/fhir/OperationDefinition/" + typ + "-ihe-pix"
}

// mdmOperations lists the system-level MDM operations (HAPI FHIR's names,
// idem's OperationDefinitions).
func mdmOperations() []any {
	var ops []any
	for _, name := range []string{"mdm-query-links", "mdm-duplicate-golden-resources", "mdm-link-history", "mdm-update-link",
		"mdm-create-link", "mdm-merge-golden-resources", "mdm-not-duplicate", "mdm-submit", "mdm-submit-status", "mdm-clear",
		"mdm-undo", "mdm-review-summary"} {
		ops = append(ops, map[string]any{"name": name, "definition": "https://idem.dev/fhir/OperationDefinition/" + name})
	}
	return ops
}

func code(c string) map[string]any { return map[string]any{"code": c} }

func capabilityResource(typ string) map[string]any {
	var params, includes, revIncludes []any
	for _, p := range registry.SearchParams(typ) {
		sp := map[string]any{"name": p.Name, "type": string(p.Kind), "documentation": p.Description}
		params = append(params, sp)
		if p.Kind == registry.KindReference {
			includes = append(includes, typ+":"+p.Name)
		}
	}
	for _, src := range registry.Types {
		for _, p := range registry.SearchParams(src) {
			if p.Kind == registry.KindReference && slices.Contains(p.Targets, typ) {
				revIncludes = append(revIncludes, src+":"+p.Name)
			}
		}
	}
	r := map[string]any{
		"type":    typ,
		"profile": "http://hl7.org/fhir/StructureDefinition/" + typ,
		"interaction": []any{code("read"), code("vread"), code("update"), code("delete"),
			code("history-instance"), code("history-type"), code("create"), code("search-type")},
		"versioning":        "versioned-update",
		"readHistory":       true,
		"updateCreate":      true,
		"conditionalCreate": true,
		"conditionalRead":   "not-supported",
		"conditionalUpdate": true,
		"conditionalDelete": "single",
		"searchParam":       params,
	}
	if serverManaged(typ) {
		// Golden records and audit events are written by idem only.
		r["interaction"] = []any{code("read"), code("vread"), code("history-instance"), code("history-type"), code("search-type")}
		for _, k := range []string{"updateCreate", "conditionalCreate", "conditionalUpdate", "conditionalDelete"} {
			delete(r, k)
		}
	}
	if len(includes) > 0 {
		r["searchInclude"] = includes
	}
	if len(revIncludes) > 0 {
		r["searchRevInclude"] = revIncludes
	}
	return r
}

// security describes how clients authenticate: bearer tokens, issued by
// idem or through SMART Backend Services at the token endpoint.
func (s *Server) security(c *fiber.Ctx) map[string]any {
	return map[string]any{
		"extension": []any{map[string]any{
			"url":       "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris",
			"extension": []any{map[string]any{"url": "token", "valueUri": s.tokenEndpoints(c)[0]}},
		}},
		"service": []any{map[string]any{"coding": []any{map[string]any{
			"system": "http://terminology.hl7.org/CodeSystem/restful-security-service", "code": "SMART-on-FHIR"}}}},
		"description": "Every interaction but this CapabilityStatement needs a bearer token: one issued with `idem client add`, or an access token from the token endpoint (SMART Backend Services, private_key_jwt).",
	}
}
