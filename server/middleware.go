package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"
)

// HeaderRequestID carries a request's id, in and out.
const HeaderRequestID = "X-Request-Id"

const ctxRequestID = "keytrail.request_id"

// requestIDRE is the form of a caller's request id keytrail keeps; others
// are replaced (ids go into logs verbatim).
var requestIDRE = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// requestIDs gives every request an id: the caller's X-Request-Id when it
// is well-formed, else a random one; it is echoed in the response.
func (s *Server) requestIDs(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		id := c.Request().Header.Get(HeaderRequestID)
		if !requestIDRE.MatchString(id) {
			var b [8]byte
			_, _ = rand.Read(b[:])
			id = hex.EncodeToString(b[:])
		}
		c.Set(ctxRequestID, id)
		c.Response().Header().Set(HeaderRequestID, id)
		return next(c)
	}
}

func requestID(c echo.Context) string {
	id, _ := c.Get(ctxRequestID).(string)
	return id
}

// routeOf is the route template a request matched ("unmatched" for none),
// the only form of the path that goes into logs and metric labels.
func routeOf(c echo.Context) string {
	if p := c.Path(); p != "" && p != "/*" {
		return p
	}
	return "unmatched"
}

// observe logs one line per request and counts it. Neither the URL's query
// nor any header or body is logged: only the route template.
func (s *Server) observe(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		err := next(c)
		if err != nil {
			c.Error(err) // writes the response now, so the status is known
		}
		route := routeOf(c)
		status := c.Response().Status
		took := time.Since(start)
		s.metrics.request(c.Request().Method, route, status, took)
		s.log.Info("request", "request_id", requestID(c), "method", c.Request().Method, "route", route,
			"status", status, "duration_ms", took.Milliseconds(), "bytes", c.Response().Size, "remote", c.RealIP())
		return nil
	}
}

// recoverPanics turns a handler's panic into a 500.
func (s *Server) recoverPanics(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) (err error) {
		defer func() {
			if r := recover(); r != nil {
				err = fmt.Errorf("panic: %v", r)
			}
		}()
		return next(c)
	}
}

// deadline bounds a handler's work (store queries, the bus) by
// timeouts.request.
func (s *Server) deadline(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		ctx, cancel := context.WithTimeout(c.Request().Context(), s.cfg.Timeouts.Request)
		defer cancel()
		c.SetRequest(c.Request().WithContext(ctx))
		return next(c)
	}
}

// readBody reads the request body, at most limit bytes; a larger body is
// ErrTooLarge (413), known from Content-Length before reading when given.
func readBody(c echo.Context, limit int64) ([]byte, error) {
	r := c.Request()
	if r.ContentLength > limit {
		return nil, fmt.Errorf("%w: %d bytes, the limit is %d", ErrTooLarge, r.ContentLength, limit)
	}
	b, err := io.ReadAll(http.MaxBytesReader(c.Response().Writer, r.Body, limit))
	if err != nil {
		if _, ok := err.(*http.MaxBytesError); ok {
			return nil, fmt.Errorf("%w: the limit is %s bytes", ErrTooLarge, strconv.FormatInt(limit, 10))
		}
		return nil, fmt.Errorf("%w: read body: %w", ErrBadRequest, err)
	}
	return b, nil
}
