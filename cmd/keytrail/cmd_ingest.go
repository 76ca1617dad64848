package main

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/keytrail/keytrail/correlate"
	"github.com/keytrail/keytrail/identity"
	"github.com/keytrail/keytrail/ingest"
	"github.com/keytrail/keytrail/ingest/aaguid"
	"github.com/keytrail/keytrail/ingest/airflow"
	"github.com/keytrail/keytrail/ingest/enrich"
	"github.com/keytrail/keytrail/ingest/sources"
	"github.com/keytrail/keytrail/model"
	"github.com/keytrail/keytrail/pipeline/correlation"
	"github.com/keytrail/keytrail/warehouse"
)

func init() {
	register(&command{
		name:    "ingest",
		summary: "normalize provider exports or API pages from files (or - for stdin) into the store",
		usage:   "ingest --source okta|entra|google|keycloak|oidc|airflow [--instance NAME] [--json] FILE...|-",
		run:     runIngest,
	})
	register(&command{
		name:    "identities",
		summary: "import the operator's person mapping (CSV person,source,subject) or list identities",
		usage:   "identities import FILE.csv | identities list [--format tsv|jsonl]",
		run:     runIdentities,
	})
	register(&command{
		name:    "mds",
		summary: "import a FIDO Metadata Service (MDS3) blob into the authenticator table",
		usage:   "mds import FILE [--root CERT.pem]",
		run:     runMDS,
	})
	register(&command{
		name:    "aaguids",
		summary: "mark authenticator AAGUIDs as hardware (allow) or not (deny), or list the table",
		usage:   "aaguids allow|deny FILE | aaguids list",
		run:     runAAGUIDs,
	})
}

// Sources lists the --source values ingest accepts.
var Sources = func() []string {
	out := make([]string, len(sources.Names))
	for i, n := range sources.Names {
		out[i] = string(n)
	}
	return out
}()

// normalizerFor returns the normalizer for a --source value; for airflow it
// also returns the classifier that counts unknown event names.
func normalizerFor(source string) (ingest.Normalizer, *airflow.Classifier, error) {
	n, err := sources.Normalizer(model.Source(source))
	if err != nil {
		return nil, nil, err
	}
	if af, ok := n.(*airflow.Normalizer); ok {
		return n, af.Classifier, nil
	}
	return n, nil, nil
}

// ingestJob is one ingest of files of one source into a warehouse; the
// ingest command and the demo both run through it.
type ingestJob struct {
	w        *warehouse.Warehouse
	enricher *enrich.Enricher
	source   string
	instance string
	// stored is called after each stored batch (streaming correlation, progress).
	stored func(ctx context.Context, b *ingest.Batch) error
	now    func() time.Time
	// batchSize is the records per store write (0 = ingest's default).
	batchSize int

	classifier *airflow.Classifier
}

// errRead marks an input that could not be read (the run continues with the
// next file and exits non-zero at the end).
var errRead = errors.New("cannot read input")

// ingestData ingests one input.
func (j *ingestJob) ingestData(ctx context.Context, name string, data []byte) (ingest.Result, error) {
	n, cls, err := normalizerFor(j.source)
	if err != nil {
		return ingest.Result{}, usageError{err.Error()}
	}
	if cls != nil {
		if j.classifier == nil {
			j.classifier = cls
		}
		n.(*airflow.Normalizer).Classifier = j.classifier
	}
	in := &ingest.Ingester{Normalizer: n, Instance: j.instance, Sink: j.w, Enricher: j.enricher, Stored: j.stored, Now: j.now, BatchSize: j.batchSize}
	return in.Ingest(ctx, name, data)
}

// ingestFile reads and ingests a file, or stdin for "-".
func (j *ingestJob) ingestFile(ctx context.Context, stdin io.Reader, name string) (ingest.Result, error) {
	var data []byte
	var err error
	if name == "-" {
		data, err = io.ReadAll(stdin)
	} else {
		data, err = os.ReadFile(name)
	}
	if err != nil {
		return ingest.Result{File: name}, fmt.Errorf("%w: %w", errRead, err)
	}
	return j.ingestData(ctx, name, data)
}

// unknownEvents describes Airflow event names missing from the
// classification table, most frequent first; "" when there were none.
func (j *ingestJob) unknownEvents() string {
	if j.classifier == nil {
		return ""
	}
	counts := j.classifier.Unknown()
	if len(counts) == 0 {
		return ""
	}
	names := make([]string, 0, len(counts))
	for n := range counts {
		names = append(names, n)
	}
	sort.Slice(names, func(a, b int) bool {
		if counts[names[a]] != counts[names[b]] {
			return counts[names[a]] > counts[names[b]]
		}
		return names[a] < names[b]
	})
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = fmt.Sprintf("%s (%d)", n, counts[n])
	}
	return "airflow event names not in the classification table, stored as action other: " + strings.Join(parts, ", ")
}

func runIngest(ctx context.Context, e *env, args []string) error {
	fs := flags("ingest", e)
	source := fs.String("source", "", "provider: "+strings.Join(Sources, ", "))
	instance := fs.String("instance", "default", "name of the provider tenant or Airflow deployment the input came from")
	asJSON := fs.Bool("json", false, "print one JSON object per file")
	corr := fs.Bool("correlate", false, "then correlate, with the streaming engine, every action from the earliest event ingested on (with the stored history it depends on)")
	policyPath := fs.String("policy", os.Getenv(policyEnv), "with --correlate: policy YAML (env "+policyEnv+"; default the built-in policy)")
	alertsPath := fs.String("alerts", os.Getenv(alertsEnv), "with --correlate: alert targets YAML (env "+alertsEnv+"; default no alerts)")
	files, err := parse(fs, args)
	if err != nil {
		return err
	}
	if *source == "" {
		return usagef("--source is required")
	}
	if _, _, err := normalizerFor(*source); err != nil {
		return usageError{err.Error()}
	}
	if len(files) == 0 {
		return usagef("no input files (use - for stdin)")
	}
	if strings.TrimSpace(*instance) == "" {
		return usagef("--instance must not be empty")
	}
	var policy correlate.Policy
	if *corr {
		if policy, err = loadPolicy(*policyPath); err != nil {
			return err
		}
	}
	s, err := e.openMigrated(ctx)
	if err != nil {
		return err
	}
	defer s.Close()
	w := warehouse.New(s)
	enr, err := enrich.New(ctx, w, nil)
	if err != nil {
		return err
	}
	job := &ingestJob{w: w, enricher: enr, source: *source, instance: *instance}
	var earliest time.Time
	if *corr {
		job.stored = func(_ context.Context, b *ingest.Batch) error {
			earliest = earliestEvent(earliest, b)
			return nil
		}
	}
	var unreadable []string
	var total ingest.Result // conflicts and dead letters over all inputs
	for _, f := range files {
		res, err := job.ingestFile(ctx, e.stdin, f)
		if errors.Is(err, errRead) {
			e.log.Error("skipping input", "file", f, "err", err)
			unreadable = append(unreadable, f)
			continue
		}
		printIngestResult(e.stdout, *asJSON, res, err)
		if err != nil {
			return fmt.Errorf("%s: %w", f, err)
		}
		total.Conflicts += res.Conflicts
		total.DeadLetters += res.DeadLetters
	}
	if msg := job.unknownEvents(); msg != "" {
		fmt.Fprintln(e.stderr, msg)
	}
	if total.DeadLetters > 0 {
		fmt.Fprintf(e.stderr, "%d records rejected: see keytrail deadletters\n", total.DeadLetters)
	}
	if total.Conflicts > 0 {
		fmt.Fprintf(e.stderr, "%d records have the id of a stored record but other bytes: kept in the conflicts table (keytrail sql 'SELECT source, instance, event_id, origin, sha256, stored_sha256 FROM conflicts FINAL'); the stored records are unchanged\n", total.Conflicts)
	}
	if *corr {
		out := e.stdout
		if *asJSON {
			out = e.stderr // stdout stays one JSON object per file
		}
		if err := ingestCorrelate(ctx, e, out, w, policy, *alertsPath, earliest); err != nil {
			return err
		}
	}
	if len(unreadable) > 0 {
		return fmt.Errorf("could not read %d of %d inputs: %s", len(unreadable), len(files), strings.Join(unreadable, ", "))
	}
	return nil
}

// printIngestResult prints one input's summary line: a JSON object with
// asJSON, else text. When the store failed (err), the counts are what the
// batches before the failure stored, and the line says so.
func printIngestResult(w io.Writer, asJSON bool, res ingest.Result, err error) {
	if asJSON {
		v := struct {
			ingest.Result
			Error string `json:"error,omitempty"`
		}{Result: res}
		if err != nil {
			v.Error = err.Error()
		}
		b, _ := json.Marshal(v)
		fmt.Fprintln(w, string(b))
		return
	}
	stopped := ""
	if err != nil {
		stopped = fmt.Sprintf(" (stopped by a store failure after %d batches; these were stored)", res.Batches)
	}
	fmt.Fprintf(w, "%s: %d records, %d accepted, %d duplicates, %d conflicts, %d dead letters%s\n",
		res.File, res.Records, res.Accepted, res.Duplicates, res.Conflicts, res.DeadLetters, stopped)
}

// earliestEvent returns the earlier of t and the earliest event time in b
// (a zero t is later than any).
func earliestEvent(t time.Time, b *ingest.Batch) time.Time {
	see := func(ts time.Time) {
		if t.IsZero() || ts.Before(t) {
			t = ts
		}
	}
	for _, v := range b.Auth {
		see(v.TS)
	}
	for _, v := range b.Authenticators {
		see(v.TS)
	}
	for _, v := range b.Airflow {
		see(v.TS)
	}
	for _, v := range b.Runs {
		see(v.TS)
	}
	return t
}

// ingestCorrelate runs the streaming correlator over the actions from
// since − clock skew on (an assertion counts for actions up to the skew
// before it), or from the earliest stored Airflow action whose owner this
// ingest identified (enrich.ResolveOwners) when that is earlier: the
// stored events they depend on, the ones just ingested among them, are fed
// in time order, verdicts are written under the policy (made current) and
// alerts go to the targets in alertsPath.
func ingestCorrelate(ctx context.Context, e *env, out io.Writer, w *warehouse.Warehouse, p correlate.Policy, alertsPath string, since time.Time) error {
	if since.IsZero() {
		fmt.Fprintln(out, "correlate: no new events stored, nothing to correlate")
		return nil
	}
	// Airflow rows stored before the identity provider's record that names
	// their owner take their person now; their verdicts change from the
	// earliest of them on.
	if _, first, err := enrich.ResolveOwners(ctx, w); err != nil {
		return err
	} else if !first.IsZero() && first.Before(since) {
		since = first
	}
	n, err := openNotifier(e, alertsPath, w)
	if err != nil {
		return err
	}
	since = since.Add(-p.ClockSkew)
	err = func() error {
		l, err := correlation.NewLive(ctx, w, p, correlation.LiveOptions{Notifier: n, Logger: e.log})
		if err != nil {
			return err
		}
		if err := l.Preload(ctx, since); err != nil {
			return err
		}
		if err := l.Close(ctx); err != nil {
			return err
		}
		st := l.Stats()
		actions := 0
		for _, c := range st.Final {
			actions += c
		}
		fmt.Fprintf(out, "correlated %d actions from %s (streaming engine, %d events read)\npolicy %s (current)\n",
			actions, FormatTime(since), st.Engine.Events, l.PolicyVersion())
		printVerdicts(out, st.Final)
		return nil
	}()
	if cerr := closeNotifier(ctx, e, n); err == nil {
		err = cerr
	}
	return err
}

func runIdentities(ctx context.Context, e *env, args []string) error {
	fs := flags("identities", e)
	format := fs.String("format", "tsv", "list output: tsv or jsonl")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) == 0 {
		return usagef("want a subcommand: import or list")
	}
	switch {
	case pos[0] == "import" && len(pos) == 2:
		rows, err := identity.ReadMappingFile(pos[1])
		if err != nil {
			return err
		}
		s, err := e.openMigrated(ctx)
		if err != nil {
			return err
		}
		defer s.Close()
		w := warehouse.New(s)
		if err := w.ImportIdentities(ctx, rows, time.Now()); err != nil {
			return fmt.Errorf("%s: %w", pos[1], err)
		}
		fmt.Fprintf(e.stdout, "imported %d mapping rows from %s\n", len(rows), pos[1])
		idp, af, err := enrich.ResolveStored(ctx, w, rows)
		if err != nil {
			return err
		}
		if idp+af > 0 {
			fmt.Fprintf(e.stdout, "re-resolved stored rows: %d sign-ins and key registrations, %d Airflow actions and runs changed person; run keytrail correlate to update their verdicts\n", idp, af)
		}
		return nil
	case pos[0] == "list" && len(pos) == 1:
		s, err := e.openMigrated(ctx)
		if err != nil {
			return err
		}
		defer s.Close()
		r, err := warehouse.New(s).Resolver(ctx, nil)
		if err != nil {
			return err
		}
		for _, id := range r.Identities() {
			if *format == "jsonl" {
				b, _ := json.Marshal(map[string]any{"person": id.Person, "source": id.Source, "subject": id.Subject, "origin": id.Origin})
				fmt.Fprintln(e.stdout, string(b))
			} else {
				fmt.Fprintf(e.stdout, "%s\t%s\t%s\t%s\n", tsvSafe(id.Person), id.Source, tsvSafe(id.Subject), id.Origin)
			}
		}
		return nil
	}
	return usagef("want: identities import FILE.csv | identities list")
}

// tsvSafe replaces the characters that would break a TSV line.
func tsvSafe(s string) string {
	return strings.NewReplacer("\t", " ", "\n", " ", "\r", " ").Replace(s)
}

func runMDS(ctx context.Context, e *env, args []string) error {
	fs := flags("mds", e)
	rootFile := fs.String("root", "", "FIDO root certificate (PEM or DER); without it the blob's signature is not verified")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 2 || pos[0] != "import" {
		return usagef("want: mds import FILE [--root CERT]")
	}
	blob, err := os.ReadFile(pos[1])
	if err != nil {
		return err
	}
	var root *x509.Certificate
	if *rootFile != "" {
		if root, err = readCert(*rootFile); err != nil {
			return err
		}
	} else {
		fmt.Fprintln(e.stderr, "warning: no --root given; the blob's signature and certificate chain are not verified (entries are marked mds3-unverified)")
	}
	entries, err := aaguid.ImportMDS3(blob, root)
	if err != nil {
		return fmt.Errorf("%s: %w", pos[1], err)
	}
	s, err := e.openMigrated(ctx)
	if err != nil {
		return err
	}
	defer s.Close()
	now := time.Now().UTC()
	rows := make([]model.AuthenticatorModel, len(entries))
	hw := 0
	for i, en := range entries {
		rows[i] = model.AuthenticatorModel{AAGUID: en.AAGUID, Model: en.Model, Hardware: en.Hardware, Synced: en.Synced,
			Platform: en.Platform, Status: en.Status, Source: en.Source, UpdatedAt: now}
		if en.Hardware {
			hw++
		}
	}
	if err := warehouse.New(s).AddAAGUIDs(ctx, rows); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "imported %d authenticator models (%d hardware) from %s\n", len(rows), hw, pos[1])
	return nil
}

func runAAGUIDs(ctx context.Context, e *env, args []string) error {
	fs := flags("aaguids", e)
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) == 1 && pos[0] == "list" {
		s, err := e.openMigrated(ctx)
		if err != nil {
			return err
		}
		defer s.Close()
		t, err := warehouse.New(s).AAGUIDTable(ctx)
		if err != nil {
			return err
		}
		for _, en := range t.Entries() {
			if got, ok := t.Lookup(en.AAGUID); ok {
				en = got // with the allow/deny decision applied
			}
			fmt.Fprintf(e.stdout, "%s\t%s\thardware=%t\tsynced=%t\t%s\n", en.AAGUID, tsvSafe(en.Model), en.Hardware, en.Synced, en.Source)
		}
		return nil
	}
	if len(pos) != 2 || (pos[0] != "allow" && pos[0] != "deny") {
		return usagef("want: aaguids allow|deny FILE | aaguids list")
	}
	f, err := os.Open(pos[1])
	if err != nil {
		return err
	}
	ids, err := aaguid.ParseList(f)
	f.Close()
	if err != nil {
		return fmt.Errorf("%s: %w", pos[1], err)
	}
	s, err := e.openMigrated(ctx)
	if err != nil {
		return err
	}
	defer s.Close()
	now := time.Now().UTC()
	rows := make([]model.AuthenticatorModel, len(ids))
	for i, id := range ids {
		rows[i] = model.AuthenticatorModel{AAGUID: id, Source: pos[0], Hardware: pos[0] == "allow", UpdatedAt: now}
	}
	if err := warehouse.New(s).AddAAGUIDs(ctx, rows); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "added %d AAGUIDs to the %s list; they apply to sign-ins ingested from now on\n", len(rows), pos[0])
	return nil
}

// readCert reads one certificate, PEM or DER.
func readCert(path string) (*x509.Certificate, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if blk, _ := pem.Decode(b); blk != nil {
		b = blk.Bytes
	}
	c, err := x509.ParseCertificate(b)
	if err != nil {
		return nil, fmt.Errorf("%s: not a certificate: %w", path, err)
	}
	return c, nil
}
