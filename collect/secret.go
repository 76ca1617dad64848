package collect

import (
	"errors"
	"fmt"
	"os"
	"strings"
)

// Secret names where a credential is kept: an environment variable or a
// file. The configuration holds only the reference; the value is read when
// a collector starts, never logged, never part of an error message.
type Secret struct {
	// Env is the name of an environment variable holding the value.
	Env string `yaml:"env"`
	// File is the path of a file holding the value; surrounding
	// whitespace (a trailing newline) is trimmed.
	File string `yaml:"file"`
}

// ErrSecret is wrapped by every error about a secret.
var ErrSecret = errors.New("secret")

// ErrSecretInline marks a secret written into a configuration itself.
var ErrSecretInline = fmt.Errorf("%w: read from an environment variable ({env: NAME}) or a file ({file: /path}), never written in the configuration", ErrSecret)

// UnmarshalYAML decodes {env: …} or {file: …}; a plain value is refused
// without repeating it.
func (s *Secret) UnmarshalYAML(unmarshal func(any) error) error {
	var str string
	if unmarshal(&str) == nil {
		if str == "" {
			*s = Secret{}
			return nil
		}
		return ErrSecretInline
	}
	type plain Secret
	return unmarshal((*plain)(s))
}

// GoString is String: %#v does not reveal more.
func (s Secret) GoString() string { return s.String() }

// IsZero reports whether s names nothing.
func (s Secret) IsZero() bool { return s.Env == "" && s.File == "" }

// String describes where the secret is kept, never its value.
func (s Secret) String() string {
	switch {
	case s.Env != "":
		return "env:" + s.Env
	case s.File != "":
		return "file:" + s.File
	}
	return "(none)"
}

// Validate reports whether s names exactly one place.
func (s Secret) Validate() error {
	switch {
	case s.Env != "" && s.File != "":
		return fmt.Errorf("%w: set env or file, not both", ErrSecret)
	case s.IsZero():
		return fmt.Errorf("%w: set env or file", ErrSecret)
	}
	return nil
}

// Value reads the secret. Errors name where it was looked for, never a
// value.
func (s Secret) Value() (string, error) {
	if err := s.Validate(); err != nil {
		return "", err
	}
	if s.Env != "" {
		v, ok := os.LookupEnv(s.Env)
		if !ok || strings.TrimSpace(v) == "" {
			return "", fmt.Errorf("%w: environment variable %s is not set", ErrSecret, s.Env)
		}
		return v, nil
	}
	b, err := os.ReadFile(s.File)
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			err = pe.Err // the path is in our message already
		}
		return "", fmt.Errorf("%w: read %s: %w", ErrSecret, s.File, err)
	}
	v := strings.TrimSpace(string(b))
	if v == "" {
		return "", fmt.Errorf("%w: file %s is empty", ErrSecret, s.File)
	}
	return v, nil
}
