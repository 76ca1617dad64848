package main

import (
	"runtime/debug"
	"sync"
)

// version is stamped at build time: make build, make demo and the Dockerfile
// pass -ldflags "-X main.version=$(git describe --tags --always --dirty)".
var version = "dev"

// buildVersion is the version keytrail names in `keytrail version` and on
// every evidence pack (cover and manifest): the stamped version; for an
// unstamped build ("dev"), the commit go build recorded, as dev+<commit>
// with .dirty for uncommitted changes; else "dev".
var buildVersion = sync.OnceValue(func() string {
	if version != "dev" {
		return version
	}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return version
	}
	return devVersion(info.Settings)
})

// devVersion names an unstamped build by its VCS settings.
func devVersion(settings []debug.BuildSetting) string {
	var rev string
	dirty := false
	for _, s := range settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if rev == "" {
		return "dev"
	}
	v := "dev+" + rev[:min(12, len(rev))]
	if dirty {
		v += ".dirty"
	}
	return v
}
