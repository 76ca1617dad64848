package server

import (
	"context"
	"errors"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/keytrail/keytrail/evidence"
)

// Conditions handlers wrap; handleError maps them to HTTP statuses, in this
// one place.
var (
	// ErrBadRequest: the request is malformed (400).
	ErrBadRequest = errors.New("bad request")
	// ErrUnauthenticated: no valid credentials (401).
	ErrUnauthenticated = errors.New("unauthenticated")
	// ErrForbidden: valid credentials without the role (403).
	ErrForbidden = errors.New("forbidden")
	// ErrNotFound: no such resource (404).
	ErrNotFound = errors.New("not found")
	// ErrConflict: the resource is not in a state to answer (409).
	ErrConflict = errors.New("conflict")
	// ErrTooLarge: the body exceeds its limit (413).
	ErrTooLarge = errors.New("request body too large")
	// ErrUnavailable: a dependency (bus, store, identity provider) failed (503).
	ErrUnavailable = errors.New("unavailable")
)

// errorBody is every error response: {"error": {"code", "message"}, "request_id"}.
type errorBody struct {
	Error     errorDetail `json:"error"`
	RequestID string      `json:"request_id,omitempty"`
}

type errorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// classify maps err to a status and a stable code.
func classify(err error) (int, string) {
	var he *echo.HTTPError
	var mbe *http.MaxBytesError
	switch {
	case errors.Is(err, ErrBadRequest), errors.Is(err, evidence.ErrBadCursor):
		return http.StatusBadRequest, "bad_request"
	case errors.Is(err, ErrUnauthenticated):
		return http.StatusUnauthorized, "unauthenticated"
	case errors.Is(err, ErrForbidden):
		return http.StatusForbidden, "forbidden"
	case errors.Is(err, ErrNotFound), errors.Is(err, evidence.ErrNotFound):
		return http.StatusNotFound, "not_found"
	case errors.Is(err, ErrConflict):
		return http.StatusConflict, "conflict"
	case errors.Is(err, ErrTooLarge), errors.As(err, &mbe):
		return http.StatusRequestEntityTooLarge, "too_large"
	case errors.Is(err, ErrUnavailable), errors.Is(err, context.DeadlineExceeded):
		return http.StatusServiceUnavailable, "unavailable"
	case errors.As(err, &he):
		switch he.Code {
		case http.StatusNotFound:
			return he.Code, "not_found"
		case http.StatusMethodNotAllowed:
			return he.Code, "method_not_allowed"
		case http.StatusRequestEntityTooLarge:
			return he.Code, "too_large"
		case http.StatusUnauthorized:
			return he.Code, "unauthenticated"
		case http.StatusBadRequest:
			return he.Code, "bad_request"
		}
		return he.Code, http.StatusText(he.Code)
	}
	return http.StatusInternalServerError, "internal"
}

// handleError is echo's error handler: the one place an error becomes a
// status and a JSON body. Server errors are logged once here, with the
// request id, and answered without their detail.
func (s *Server) handleError(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	status, code := classify(err)
	msg := err.Error()
	var he *echo.HTTPError
	if errors.As(err, &he) {
		if m, ok := he.Message.(string); ok {
			msg = m
		}
	}
	rid := requestID(c)
	log := s.log.With("request_id", rid, "route", routeOf(c), "status", status)
	if status >= 500 {
		log.Error("request failed", "err", err)
		if status == http.StatusInternalServerError {
			msg = "internal error; the server log has the detail under this request id"
		}
	} else {
		log.Info("request refused", "code", code, "err", msg)
	}
	if s.console != nil && s.console.Owns(c.Path()) && c.Request().Method != http.MethodHead {
		s.console.RenderError(c, status, code, msg, rid)
		return
	}
	if status == http.StatusUnauthorized {
		c.Response().Header().Set(echo.HeaderWWWAuthenticate, `Bearer error="invalid_token"`)
	}
	body := errorBody{Error: errorDetail{Code: code, Message: msg}, RequestID: rid}
	if c.Request().Method == http.MethodHead {
		_ = c.NoContent(status)
		return
	}
	_ = c.JSON(status, body)
}
