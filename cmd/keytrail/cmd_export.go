package main

import (
	"bufio"
	"context"
	"encoding/csv"
	"fmt"
	"time"

	"github.com/keytrail/keytrail/model"
	"github.com/keytrail/keytrail/report"
	"github.com/keytrail/keytrail/warehouse"
)

func init() {
	register(&command{
		name:    "export",
		summary: "export the correlation population (the evidence pack's population format)",
		usage:   "export correlations [--from T] [--to T] [--format jsonl|csv] [--policy-version V]",
		run:     runExport,
	})
}

func runExport(ctx context.Context, e *env, args []string) error {
	if len(args) == 0 || args[0] != "correlations" {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
			fmt.Fprintln(e.stderr, "usage: keytrail export correlations [--from T] [--to T] [--format jsonl|csv] [--policy-version V]")
			return nil
		}
		return usagef("export what? (correlations)")
	}
	fs := flags("export correlations", e)
	from := fs.String("from", "", "first action time, inclusive (RFC 3339, YYYY-MM-DD, or an age such as 30d; default all)")
	to := fs.String("to", "", "end of the actions, exclusive (default all)")
	format := fs.String("format", "jsonl", "jsonl or csv (fields: "+fmt.Sprint(len(report.PopulationHeader))+", as the evidence pack's population)")
	version := fs.String("policy-version", "", "policy version whose verdicts to export (default the current one)")
	pos, err := parse(fs, args[1:])
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("unexpected argument %q", pos[0])
	}
	if *format != "jsonl" && *format != "csv" {
		return usagef("unknown --format %q (jsonl or csv)", *format)
	}
	now := time.Now()
	var fromT, toT time.Time
	if fromT, err = parseTime(*from, now); err != nil {
		return usagef("--from: %v", err)
	}
	if toT, err = parseTime(*to, now); err != nil {
		return usagef("--to: %v", err)
	}
	s, err := e.openStore(ctx)
	if err != nil {
		return err
	}
	defer s.Close()
	w := warehouse.New(s)

	out := bufio.NewWriterSize(e.stdout, 1<<16)
	var cw *csv.Writer
	if *format == "csv" {
		cw = csv.NewWriter(out)
		if err := cw.Write(report.PopulationHeader); err != nil {
			return err
		}
	}
	rows := 0
	v, err := w.ExportCorrelations(ctx, *version, fromT, toT, func(c model.Correlation) error {
		rows++
		if cw != nil {
			return report.WriteCSVRow(cw, c)
		}
		return report.WriteJSONRow(out, c)
	})
	if err != nil {
		return err
	}
	if cw != nil {
		cw.Flush()
		if err := cw.Error(); err != nil {
			return err
		}
	}
	if err := out.Flush(); err != nil {
		return err
	}
	if v == "" {
		fmt.Fprintln(e.stderr, "warning: nothing has been correlated in this store yet (run `keytrail correlate`)")
		return nil
	}
	e.log.Debug("exported correlations", "rows", rows, "policy_version", v)
	return nil
}
