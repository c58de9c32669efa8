package fhir

import "fmt"

// Issue severities (OperationOutcome.issue.severity).
const (
	SeverityFatal       = "fatal"
	SeverityError       = "error"
	SeverityWarning     = "warning"
	SeverityInformation = "information"
)

// Issue is one OperationOutcome.issue: what went wrong and, where it is known,
// the element it concerns as a FHIRPath expression ("Patient.birthDate").
type Issue struct {
	Severity    string // fatal | error | warning | information
	Code        string // FHIR IssueType: invalid, structure, required, value, not-found, ...
	Diagnostics string // safe, human-readable message
	Expression  []string
}

// Error reports content that breaks FHIR: Message sums it up and is safe to
// show, Issues name the elements. Malformed tells content that cannot be read
// as FHIR at all (invalid JSON, an unknown element, a wrong JSON type or
// resourceType, a forbidden character: a bad request) from content that was
// read but breaks a rule of the specification (a bad value, a missing
// element, an invariant, a repeat limit: an unprocessable one).
type Error struct {
	Malformed bool
	Message   string
	Issues    []Issue
}

// Error implements the error interface.
func (e *Error) Error() string { return e.Message }

// malformed returns a Malformed *Error with one issue of type issueType at
// expression ("" for none).
func malformed(issueType, expression, format string, args ...any) *Error {
	msg := fmt.Sprintf(format, args...)
	iss := Issue{Severity: SeverityError, Code: issueType, Diagnostics: msg}
	if expression != "" {
		iss.Expression = []string{expression}
	}
	return &Error{Malformed: true, Message: msg, Issues: []Issue{iss}}
}

// OperationOutcome builds an OperationOutcome resource from issues.
func OperationOutcome(issues []Issue) map[string]any {
	list := make([]any, 0, len(issues))
	for _, is := range issues {
		m := map[string]any{"severity": is.Severity, "code": is.Code}
		if is.Severity == "" {
			m["severity"] = SeverityError
		}
		if is.Code == "" {
			m["code"] = "processing"
		}
		if is.Diagnostics != "" {
			m["diagnostics"] = is.Diagnostics
		}
		if len(is.Expression) > 0 {
			exprs := make([]any, len(is.Expression))
			for i, e := range is.Expression {
				exprs[i] = e
			}
			m["expression"] = exprs
		}
		list = append(list, m)
	}
	return map[string]any{"resourceType": "OperationOutcome", "issue": list}
}

// Information builds an OperationOutcome with one informational issue.
func Information(msg string) map[string]any {
	return OperationOutcome([]Issue{{Severity: SeverityInformation, Code: "informational", Diagnostics: msg}})
}
