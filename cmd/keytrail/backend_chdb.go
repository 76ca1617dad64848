//go:build !nochdb

package main

// The embedded engine; build with -tags nochdb for a server-only binary that
// does not need libchdb.so.
import _ "github.com/keytrail/keytrail/store/chdb"
