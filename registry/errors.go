package registry

import (
	"errors"
	"fmt"

	"idem/registry/fhir"
)

// Error codes. Each maps to one HTTP status in web's error handler; the codes
// are the registry's, so the domain never talks about HTTP.
const (
	EInvalid        = "invalid"        // malformed request or resource (400)
	EUnauthorized   = "unauthorized"   // missing or bad credentials (401)
	EForbidden      = "forbidden"      // authenticated but not allowed (403)
	ENotFound       = "not_found"      // no such resource or version (404)
	EMethod         = "method"         // interaction not supported here (405)
	ENotAcceptable  = "not_acceptable" // requested format not produced (406)
	EConflict       = "conflict"       // concurrent or business conflict (409)
	EGone           = "gone"           // resource was deleted (410)
	EPrecondition   = "precondition"   // If-Match / conditional failed (412)
	ETooLarge       = "too_large"      // request body over the limit (413)
	EUnsupported    = "unsupported"    // media type not supported (415)
	EUnprocessable  = "unprocessable"  // parsed, but content breaks FHIR rules (422)
	ETooManyRequest = "too_many"       // rate limited (429)
	EInternal       = "internal"       // bug or infrastructure failure (500)
)

// Error is the registry's one error type. Message is safe to show to clients;
// Issues carry element-level detail. Internal errors keep their cause in Err
// for the log and are shown to clients as "internal error".
type Error struct {
	Code    string
	Message string
	Issues  []fhir.Issue
	Err     error
	// Resource, when set on a successful-but-special outcome such as a
	// conditional create that found an existing match, is never used; errors
	// only describe failures.
}

// Error implements the error interface.
func (e *Error) Error() string {
	if e.Err != nil && e.Code == EInternal {
		return fmt.Sprintf("%s: %v", e.Message, e.Err)
	}
	return e.Message
}

// Unwrap returns the underlying cause, if any.
func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error with the given code and a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Invalid returns a 400-class error with one issue pointing at expression.
func Invalid(code, issueType, expression, format string, args ...any) *Error {
	msg := fmt.Sprintf(format, args...)
	iss := fhir.Issue{Severity: fhir.SeverityError, Code: issueType, Diagnostics: msg}
	if expression != "" {
		iss.Expression = []string{expression}
	}
	return &Error{Code: code, Message: msg, Issues: []fhir.Issue{iss}}
}

// Internal wraps an unexpected error (database down, bug) so that it is logged
// in full but reported to clients without detail.
func Internal(err error) *Error {
	return &Error{Code: EInternal, Message: "internal error", Err: err}
}

// ErrorCode returns the code of err: its own if it is an *Error, EInternal
// otherwise, and "" for nil.
func ErrorCode(err error) string {
	if err == nil {
		return ""
	}
	if e := asError(err); e != nil {
		return e.Code
	}
	return EInternal
}

// asError returns err as the registry's error, or nil when it is neither an
// *Error nor content the fhir package refused. A *fhir.Error becomes
// EInvalid when the content could not be read as FHIR and EUnprocessable
// when it breaks a rule, with fhir's message and issues: this is where the
// FHIR engine's reports join the one error type.
func asError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	var fe *fhir.Error
	if !errors.As(err, &fe) {
		return nil
	}
	code := EUnprocessable
	if fe.Malformed {
		code = EInvalid
	}
	return &Error{Code: code, Message: fe.Message, Issues: fe.Issues, Err: fe}
}

// ErrorMessage returns the client-safe message of err.
func ErrorMessage(err error) string {
	if e := asError(err); e != nil && e.Code != EInternal {
		return e.Message
	}
	return "internal error"
}

// ErrorIssues returns the issues of err; for an error without issues it
// builds one from the code and message.
func ErrorIssues(err error) []fhir.Issue {
	if e := asError(err); e != nil && len(e.Issues) > 0 {
		return e.Issues
	}
	return []fhir.Issue{{Severity: fhir.SeverityError, Code: IssueTypeFor(ErrorCode(err)), Diagnostics: ErrorMessage(err)}}
}

// IssueTypeFor returns the FHIR IssueType that best describes an error code.
func IssueTypeFor(code string) string {
	switch code {
	case EInvalid, EUnprocessable:
		return "invalid"
	case EUnauthorized:
		return "login"
	case EForbidden:
		return "forbidden"
	case ENotFound:
		return "not-found"
	case EGone:
		return "deleted"
	case EConflict, EPrecondition:
		return "conflict"
	case ETooLarge:
		return "too-costly"
	case EMethod, EUnsupported, ENotAcceptable:
		return "not-supported"
	case ETooManyRequest:
		return "throttled"
	default:
		return "exception"
	}
}

// errRetry marks a write conflict with a concurrent transaction that is safe
// to retry from the start (unique-key race, version race, serialization failure).
var errRetry = errors.New("concurrent write conflict")

// ErrRetry returns the retryable conflict error; stores return it (or wrap it)
// when a transaction lost a race and should be run again.
func ErrRetry(cause error) error { return fmt.Errorf("%w: %v", errRetry, cause) }

// IsRetry reports whether err is a retryable write conflict.
func IsRetry(err error) bool { return errors.Is(err, errRetry) }
