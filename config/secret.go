package config

import "github.com/keytrail/keytrail/internal/secret"

// Secret names where a secret is kept: an environment variable or a file
// ({env: NAME} or {file: /path} in YAML). The collectors and the server
// read the same kind, so one file configures both.
type Secret = secret.Ref

// ErrSecretInline marks a secret written into the configuration itself.
var ErrSecretInline = secret.ErrInline
