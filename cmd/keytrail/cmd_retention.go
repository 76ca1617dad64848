package main

import (
	"context"
	"fmt"
	"os/user"
	"time"

	"github.com/keytrail/keytrail/schema"
)

func init() {
	register(&command{
		name:    "retention",
		summary: "drop whole months of data older than a cutoff, recording what was dropped",
		usage:   "retention --before TIME [--dry-run]",
		run:     runRetention,
	})
}

func runRetention(ctx context.Context, e *env, args []string) error {
	fs := flags("retention", e)
	before := fs.String("before", "", "drop months that end before this time (RFC 3339, YYYY-MM-DD, or an age like 400d)")
	dry := fs.Bool("dry-run", false, "list what would be dropped, drop nothing")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	if *before == "" {
		return usagef("--before is required")
	}
	cutoff, err := parseTime(*before, time.Now())
	if err != nil {
		return usagef("%v", err)
	}
	s, err := e.openStore(ctx)
	if err != nil {
		return err
	}
	defer s.Close()
	operator := "unknown"
	if u, err := user.Current(); err == nil {
		operator = u.Username
	}
	parts, err := schema.Retain(ctx, s, cutoff, operator, *dry)
	if err != nil {
		return err
	}
	verb := "dropped"
	if *dry {
		verb = "would drop"
	}
	var rows uint64
	for _, p := range parts {
		fmt.Fprintf(e.stdout, "%s %s partition %s (%d rows)\n", verb, p.Table, p.Partition, p.Rows)
		rows += p.Rows
	}
	fmt.Fprintf(e.stdout, "%s %d partitions, %d rows, before %s\n", verb, len(parts), rows, cutoff.Format("2006-01"))
	return nil
}
