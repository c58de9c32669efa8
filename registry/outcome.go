package registry

import "idem/registry/fhir"

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

// ErrorOutcome builds the OperationOutcome that reports err.
func ErrorOutcome(err error) map[string]any { return fhir.OperationOutcome(ErrorIssues(err)) }
