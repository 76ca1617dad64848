package config

import "github.com/keytrail/keytrail/collect"

// Secret names where a secret is kept: an environment variable or a file
// ({env: NAME} or {file: /path} in YAML). It is the collectors' secret, so
// one file configures both.
type Secret = collect.Secret

// ErrSecretInline marks a secret written into the configuration itself.
var ErrSecretInline = collect.ErrSecretInline
