package registry

// Status returns the HTTP status of err. It is the one mapping from error
// codes to HTTP, used by the web layer and by Bundle entry responses.
func Status(err error) int {
	switch ErrorCode(err) {
	case "":
		return 200
	case EInvalid:
		return 400
	case EUnauthorized:
		return 401
	case EForbidden:
		return 403
	case ENotFound:
		return 404
	case EMethod:
		return 405
	case ENotAcceptable:
		return 406
	case EConflict:
		return 409
	case EGone:
		return 410
	case EPrecondition:
		return 412
	case ETooLarge:
		return 413
	case EUnsupported:
		return 415
	case EUnprocessable:
		return 422
	case ETooManyRequest:
		return 429
	default:
		return 500
	}
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

// ErrorOutcome builds the OperationOutcome that reports err.
func ErrorOutcome(err error) map[string]any { return OperationOutcome(ErrorIssues(err)) }

// Information builds an OperationOutcome with one informational issue.
func Information(msg string) map[string]any {
	return OperationOutcome([]Issue{{Severity: SeverityInformation, Code: "informational", Diagnostics: msg}})
}
