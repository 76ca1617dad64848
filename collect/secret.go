package collect

import "github.com/keytrail/keytrail/internal/secret"

// Secret is where a collector's credential is kept: an environment variable
// or a file, read when the collector starts and never logged.
type Secret = secret.Ref
