// Package firewall holds FireFlow's domain model: firewalls, filtering
// policies and rules, their validation, and the errors every layer shares.
// It performs no I/O.
package firewall

import (
	"errors"
	"fmt"
	"strings"
)

// Code classifies an Error so that callers can map it to a transport status
// without matching on text.
type Code string

// The error codes. Each maps to exactly one HTTP status in the API layer.
const (
	CodeInvalid             Code = "invalid"              // the input breaks a rule of the model
	CodeNotFound            Code = "not_found"            // the resource or its parent does not exist
	CodeConflict            Code = "conflict"             // a uniqueness rule or a child blocks the change
	CodePreconditionFailed  Code = "precondition_failed"  // If-Match named a stale etag
	CodeIdempotencyMismatch Code = "idempotency_mismatch" // an idempotency key was reused with another request
	CodeUnavailable         Code = "unavailable"          // the store cannot be reached right now
	CodeUnprocessable       Code = "unprocessable"        // valid input the operation cannot carry out faithfully
	CodeGone                Code = "gone"                 // the resource existed but is no longer kept
	CodeForbidden           Code = "forbidden"            // the caller's role allows the operation, but not on this resource
)

// Problem is one thing wrong with one field of an input.
type Problem struct {
	// Location is the field path, such as "sources[2]" or "name".
	Location string
	// Message says what is wrong in words a person understands.
	Message string
	// Value is the offending value, echoed back to help the caller.
	Value any
}

// Error is a domain error with a code, a summary and optional field problems.
type Error struct {
	Code     Code
	Message  string
	Problems []Problem
	Err      error // the underlying cause, never shown to clients
}

// Error returns the summary, followed by each field problem.
func (e *Error) Error() string {
	if len(e.Problems) == 0 {
		if e.Err != nil {
			return e.Message + ": " + e.Err.Error()
		}
		return e.Message
	}
	parts := make([]string, 0, len(e.Problems))
	for _, p := range e.Problems {
		if p.Message != e.Message {
			parts = append(parts, p.Location+": "+p.Message)
		}
	}
	if len(parts) == 0 {
		return e.Message
	}
	return e.Message + ": " + strings.Join(parts, "; ")
}

// Unwrap returns the underlying cause.
func (e *Error) Unwrap() error { return e.Err }

// CodeOf returns the code of the first *Error in err's chain, or "" if none.
func CodeOf(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

// NotFound reports that a resource of the given kind and id does not exist.
func NotFound(kind, id string) error {
	return &Error{Code: CodeNotFound, Message: fmt.Sprintf("%s %q not found", kind, id)}
}

// Conflict reports a change that clashes with existing data.
func Conflict(format string, args ...any) error {
	return &Error{Code: CodeConflict, Message: fmt.Sprintf(format, args...)}
}

// ConflictOn reports a uniqueness clash on one field.
func ConflictOn(location string, value any, format string, args ...any) error {
	msg := fmt.Sprintf(format, args...)
	return &Error{Code: CodeConflict, Message: msg, Problems: []Problem{{Location: location, Message: msg, Value: value}}}
}

// Forbidden reports that the caller may not do this to this resource, such
// as approving a change request of their own.
func Forbidden(format string, args ...any) error {
	return &Error{Code: CodeForbidden, Message: fmt.Sprintf(format, args...)}
}

// PreconditionFailed reports that the caller's etag no longer matches.
func PreconditionFailed(kind, id string) error {
	return &Error{Code: CodePreconditionFailed, Message: fmt.Sprintf("%s %q has changed since the given etag; fetch it again and retry", kind, id)}
}

// Unavailable reports that the store cannot serve the request right now.
func Unavailable(cause error) error {
	return &Error{Code: CodeUnavailable, Message: "the database is unavailable; retry later", Err: cause}
}

// Problems collects field problems while an input is checked.
type Problems []Problem

// Add records a problem at location.
func (ps *Problems) Add(location string, value any, format string, args ...any) {
	*ps = append(*ps, Problem{Location: location, Message: fmt.Sprintf(format, args...), Value: value})
}

// Err returns an invalid-input *Error holding every problem, or nil if there are none.
func (ps Problems) Err(summary string) error {
	if len(ps) == 0 {
		return nil
	}
	return &Error{Code: CodeInvalid, Message: summary, Problems: ps}
}
