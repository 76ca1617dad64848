package config

import (
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"
)

// Secret names where a secret is kept: an environment variable or a file.
// The configuration never holds the value itself, and a Secret prints as
// where it comes from, never as its value. In YAML: {env: NAME} or
// {file: /path}.
type Secret struct {
	// Env is the environment variable holding the value.
	Env string `yaml:"env"`
	// File is a file holding the value (a trailing newline is dropped), such
	// as a Docker or Kubernetes secret mount.
	File string `yaml:"file"`
}

// ErrSecretInline marks a secret written into the configuration itself.
var ErrSecretInline = errors.New("secrets are read from an environment variable ({env: NAME}) or a file ({file: /path}), never written in the configuration")

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

// IsZero reports whether s names nothing.
func (s Secret) IsZero() bool { return s.Env == "" && s.File == "" }

// String says where the secret comes from.
func (s Secret) String() string {
	switch {
	case s.Env != "":
		return "environment variable " + s.Env
	case s.File != "":
		return "file " + s.File
	}
	return "no secret"
}

// GoString is String: %#v does not reveal more.
func (s Secret) GoString() string { return s.String() }

var envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// check reports what is wrong with how s is given (not whether it is set).
func (s Secret) check() error {
	switch {
	case s.Env != "" && s.File != "":
		return errors.New("give env or file, not both")
	case s.Env != "" && !envName.MatchString(s.Env):
		return fmt.Errorf("env %q is not an environment variable name", s.Env)
	}
	return nil
}

// Value reads the secret. Its errors name where it looked, never a value.
func (s Secret) Value() (string, error) {
	switch {
	case s.Env != "":
		v, ok := os.LookupEnv(s.Env)
		if !ok || v == "" {
			return "", fmt.Errorf("environment variable %s is not set", s.Env)
		}
		return v, nil
	case s.File != "":
		b, err := os.ReadFile(s.File)
		if err != nil {
			var pe *os.PathError
			if errors.As(err, &pe) {
				err = pe.Err
			}
			return "", fmt.Errorf("read secret file %s: %w", s.File, err)
		}
		v := strings.TrimRight(string(b), "\r\n")
		if v == "" {
			return "", fmt.Errorf("secret file %s is empty", s.File)
		}
		return v, nil
	}
	return "", errors.New("no secret configured")
}
