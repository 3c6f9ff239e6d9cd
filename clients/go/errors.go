package rivetq

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// Sentinel errors. Every error the server reports is an *APIError that matches one of
// these with errors.Is (when its code or status is known).
var (
	ErrInvalidArgument  = errors.New("rivetq: invalid argument")
	ErrUnauthenticated  = errors.New("rivetq: unauthenticated")
	ErrJobNotFound      = errors.New("rivetq: job not found")
	ErrQueueNotFound    = errors.New("rivetq: queue not found")
	ErrScheduleNotFound = errors.New("rivetq: schedule not found")
	ErrLeaseLost        = errors.New("rivetq: lease lost")
	ErrStateConflict    = errors.New("rivetq: state conflict")
	ErrPayloadTooLarge  = errors.New("rivetq: payload too large")
	ErrUnavailable      = errors.New("rivetq: server unavailable")
)

// sentinelByCode mirrors the server's error codes (rivetq.errors in the server).
var sentinelByCode = map[string]error{
	"invalid_argument":    ErrInvalidArgument,
	"unauthenticated":     ErrUnauthenticated,
	"job_not_found":       ErrJobNotFound,
	"queue_not_found":     ErrQueueNotFound,
	"schedule_not_found":  ErrScheduleNotFound,
	"lease_lost":          ErrLeaseLost,
	"state_conflict":      ErrStateConflict,
	"payload_too_large":   ErrPayloadTooLarge,
	"storage_unavailable": ErrUnavailable,
}

// sentinelByStatus covers replies without a known code, e.g. from a proxy in between.
var sentinelByStatus = map[int]error{
	http.StatusBadRequest:            ErrInvalidArgument,
	http.StatusUnauthorized:          ErrUnauthenticated,
	http.StatusRequestEntityTooLarge: ErrPayloadTooLarge,
	http.StatusBadGateway:            ErrUnavailable,
	http.StatusServiceUnavailable:    ErrUnavailable,
	http.StatusGatewayTimeout:        ErrUnavailable,
}

// APIError is an error reply from the server.
type APIError struct {
	Status  int    // HTTP status code; 0 for one item's error inside a batch reply
	Code    string // stable error code, e.g. "lease_lost"; empty if the reply had none
	Message string // human-readable message from the server
	Field   string // the request field an invalid_argument is about, e.g. "priority"; may be empty
}

func (e *APIError) Error() string {
	switch {
	case e.Status == 0 && e.Code == "":
		return "rivetq: " + e.Message
	case e.Status == 0:
		return fmt.Sprintf("rivetq: %s: %s", e.Code, e.Message)
	case e.Code == "":
		return fmt.Sprintf("rivetq: HTTP %d: %s", e.Status, e.Message)
	}
	return fmt.Sprintf("rivetq: %s (HTTP %d): %s", e.Code, e.Status, e.Message)
}

// Unwrap returns the sentinel error matching the code (or else the status), or nil.
func (e *APIError) Unwrap() error {
	if sentinel, ok := sentinelByCode[e.Code]; ok {
		return sentinel
	}
	return sentinelByStatus[e.Status]
}

// ConnectionError is a request that got no reply: the server at URL refused the
// connection, dropped it, or did not answer in time. Err is the transport's error (a
// *url.Error), so errors.Is(err, context.DeadlineExceeded) still holds for a timeout.
type ConnectionError struct {
	URL    string // the client's base URL, e.g. "http://127.0.0.1:8080"
	Method string
	Path   string
	Err    error
}

func (e *ConnectionError) Error() string {
	cause := e.Err
	var urlErr *url.Error
	if errors.As(cause, &urlErr) {
		cause = urlErr.Err // its text repeats the whole URL
	}
	return fmt.Sprintf("rivetq: no answer from the RivetQ server at %s (%s %s): %v", e.URL, e.Method, e.Path, cause)
}

func (e *ConnectionError) Unwrap() error { return e.Err }

type errorEnvelope struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
		Field   string `json:"field"`
	} `json:"error"`
}

// errorFromBody decodes the server's {"error": {code, message}} reply; a reply in
// another shape keeps its (trimmed) text as the message.
func errorFromBody(status int, body []byte) *APIError {
	var envelope errorEnvelope
	if err := json.Unmarshal(body, &envelope); err == nil && envelope.Error.Code != "" {
		return &APIError{Status: status, Code: envelope.Error.Code, Message: envelope.Error.Message, Field: envelope.Error.Field}
	}
	message := strings.TrimSpace(string(body))
	if len(message) > 512 {
		message = message[:512] + "…"
	}
	if message == "" {
		message = http.StatusText(status)
	}
	return &APIError{Status: status, Message: message}
}
