// Package secret is where keytrail's configuration keeps a credential: a
// reference to an environment variable or a file, never the value. The
// collectors' credentials and the server's keys (OIDC client secret, cookie
// key, webhook HMAC keys, alert authorization) are all a Ref, read when a
// component starts, never logged and never part of an error message.
package secret

import (
	"errors"
	"fmt"
	"os"
	"strings"
)

// Ref names where a credential is kept: an environment variable or a
// file. The configuration holds only the reference; the value is read when
// a component starts, never logged, never part of an error message.
type Ref struct {
	// Env is the name of an environment variable holding the value.
	Env string `yaml:"env"`
	// File is the path of a file holding the value; surrounding
	// whitespace (a trailing newline) is trimmed.
	File string `yaml:"file"`
}

// Err is wrapped by every error about a secret.
var Err = errors.New("secret")

// ErrInline marks a secret written into a configuration itself.
var ErrInline = fmt.Errorf("%w: read from an environment variable ({env: NAME}) or a file ({file: /path}), never written in the configuration", Err)

// UnmarshalYAML decodes {env: …} or {file: …}; a plain value is refused
// without repeating it.
func (s *Ref) UnmarshalYAML(unmarshal func(any) error) error {
	var str string
	if unmarshal(&str) == nil {
		if str == "" {
			*s = Ref{}
			return nil
		}
		return ErrInline
	}
	type plain Ref
	return unmarshal((*plain)(s))
}

// GoString is String: %#v does not reveal more.
func (s Ref) GoString() string { return s.String() }

// IsZero reports whether s names nothing.
func (s Ref) IsZero() bool { return s.Env == "" && s.File == "" }

// String describes where the secret is kept, never its value.
func (s Ref) String() string {
	switch {
	case s.Env != "":
		return "env:" + s.Env
	case s.File != "":
		return "file:" + s.File
	}
	return "(none)"
}

// Validate reports whether s names exactly one place.
func (s Ref) Validate() error {
	switch {
	case s.Env != "" && s.File != "":
		return fmt.Errorf("%w: set env or file, not both", Err)
	case s.IsZero():
		return fmt.Errorf("%w: set env or file", Err)
	}
	return nil
}

// Value reads the secret. Errors name where it was looked for, never a
// value.
func (s Ref) Value() (string, error) {
	if err := s.Validate(); err != nil {
		return "", err
	}
	if s.Env != "" {
		v, ok := os.LookupEnv(s.Env)
		if !ok || strings.TrimSpace(v) == "" {
			return "", fmt.Errorf("%w: environment variable %s is not set", Err, s.Env)
		}
		return v, nil
	}
	b, err := os.ReadFile(s.File)
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			err = pe.Err // the path is in our message already
		}
		return "", fmt.Errorf("%w: read %s: %w", Err, s.File, err)
	}
	v := strings.TrimSpace(string(b))
	if v == "" {
		return "", fmt.Errorf("%w: file %s is empty", Err, s.File)
	}
	return v, nil
}
