package fhir

import "errors"

// The codes the tests expect of an *Error, named as the registry maps them:
// malformed content is "invalid" (400), content breaking a rule
// "unprocessable" (422).
const (
	codeInvalid       = "invalid"
	codeUnprocessable = "unprocessable"
)

// errCode returns "" for nil, codeInvalid or codeUnprocessable for an
// *Error, and "not an *Error" for anything else.
func errCode(err error) string {
	var e *Error
	switch {
	case err == nil:
		return ""
	case !errors.As(err, &e):
		return "not an *Error"
	case e.Malformed:
		return codeInvalid
	}
	return codeUnprocessable
}

// errMessage returns the message of err ("" for nil).
func errMessage(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// errIssues returns the issues of an *Error (nil for anything else).
func errIssues(err error) []Issue {
	var e *Error
	if errors.As(err, &e) {
		return e.Issues
	}
	return nil
}
