package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/keytrail/keytrail/correlate"
	"github.com/keytrail/keytrail/schema"
	"github.com/keytrail/keytrail/store"
	_ "github.com/keytrail/keytrail/store/clickhouse"
)

// env is what every command gets: streams, logger and the global options.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	log            *slog.Logger
	storeURL       string
	storeExplicit  bool // --store or KEYTRAIL_STORE was given
	timeout        time.Duration
	// liveUpdate, when set, observes the streaming correlator's updates in
	// collect (benchmarks measure verdict latency with it); nil in the CLI.
	liveUpdate func(correlate.Update)
	// clock tells the collectors time (demo --live and the latency
	// benchmark play an accelerated one); nil is the real clock.
	clock clockwork.Clock
}

// command is one subcommand.
type command struct {
	name    string
	summary string
	usage   string
	run     func(ctx context.Context, e *env, args []string) error
}

var commands = map[string]*command{}

func register(c *command) { commands[c.name] = c }

// usageError marks errors caused by how the command was called (exit 2).
type usageError struct{ msg string }

func (u usageError) Error() string { return u.msg }

func usagef(format string, args ...any) error { return usageError{fmt.Sprintf(format, args...)} }

// run is the whole CLI; main only wires the process to it.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	e := &env{stdin: stdin, stdout: stdout, stderr: stderr}
	global := flag.NewFlagSet("keytrail", flag.ContinueOnError)
	global.SetOutput(stderr)
	global.StringVar(&e.storeURL, "store", "", "store URL: chdb:///abs/path or clickhouse://user:pass@host:9000/db (env KEYTRAIL_STORE; default "+store.DefaultURL()+")")
	logLevel := global.String("log-level", envOr("KEYTRAIL_LOG_LEVEL", "info"), "log level: debug, info, warn, error")
	global.DurationVar(&e.timeout, "timeout", 0, "overall deadline for the command (0 = none)")
	global.Usage = func() { printUsage(stderr, global) }
	if err := global.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		fmt.Fprintf(stderr, "keytrail: bad --log-level %q\n", *logLevel)
		return 2
	}
	e.log = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	e.storeExplicit = e.storeURL != "" || os.Getenv("KEYTRAIL_STORE") != ""
	if e.storeURL == "" {
		e.storeURL = envOr("KEYTRAIL_STORE", store.DefaultURL())
	}
	rest := global.Args()
	if len(rest) == 0 || rest[0] == "help" || rest[0] == "-h" || rest[0] == "--help" {
		if len(rest) > 1 {
			if c, ok := commands[rest[1]]; ok {
				fmt.Fprintf(stdout, "usage: keytrail %s\n\n%s\n", c.usage, c.summary)
				return 0
			}
		}
		printUsage(stdout, global)
		if len(rest) == 0 {
			return 2
		}
		return 0
	}
	if rest[0] == "version" {
		fmt.Fprintln(stdout, "keytrail", buildVersion())
		return 0
	}
	c, ok := commands[rest[0]]
	if !ok {
		fmt.Fprintf(stderr, "keytrail: unknown command %q (see keytrail help)\n", rest[0])
		return 2
	}
	if e.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, e.timeout)
		defer cancel()
	}
	if err := c.run(ctx, e, rest[1:]); err != nil {
		var ue usageError
		if errors.As(err, &ue) {
			fmt.Fprintf(stderr, "keytrail %s: %s\nusage: keytrail %s\n", c.name, ue.msg, c.usage)
			return 2
		}
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintf(stderr, "keytrail %s: %v\n", c.name, err)
		return 1
	}
	return 0
}

func printUsage(w io.Writer, global *flag.FlagSet) {
	fmt.Fprintln(w, "keytrail — which person did each Airflow action, and which hardware key they tapped.")
	fmt.Fprintln(w, "\nusage: keytrail [global flags] COMMAND [flags] [args]\n\ncommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-14s %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(w, "\nglobal flags:")
	global.SetOutput(w)
	global.PrintDefaults()
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

// flags returns a FlagSet for command c that reports errors as usage errors.
func flags(c string, e *env) *flag.FlagSet {
	fs := flag.NewFlagSet(c, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	return fs
}

// parse parses args into fs, allowing flags after positional arguments.
func parse(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, usageError{err.Error()}
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		if args[0] == "--" {
			return append(pos, args[1:]...), nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// openStore opens the configured store; it logs where, never credentials.
func (e *env) openStore(ctx context.Context) (store.Store, error) {
	s, err := store.Open(ctx, e.storeURL)
	if err != nil {
		return nil, fmt.Errorf("open store %s: %w", store.Redact(e.storeURL), err)
	}
	e.log.Debug("store open", "store", store.Redact(e.storeURL))
	return s, nil
}

// parseTime accepts RFC 3339 (with or without fraction), a date, or a
// duration before now such as 24h or 30d.
func parseTime(s string, now time.Time) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02 15:04:05", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	if strings.HasSuffix(s, "d") {
		var n int
		if _, err := fmt.Sscanf(s, "%dd", &n); err == nil {
			return now.Add(-time.Duration(n) * 24 * time.Hour).UTC(), nil
		}
	}
	if d, err := time.ParseDuration(s); err == nil {
		return now.Add(-d).UTC(), nil
	}
	return time.Time{}, fmt.Errorf("bad time %q: want RFC 3339, YYYY-MM-DD, or an age such as 24h or 30d", s)
}

// EnvVars lists every environment variable keytrail reads. The compose file
// test checks keytrail's container sets nothing else.
var EnvVars = []string{
	"KEYTRAIL_STORE",       // store URL (default: embedded store under the data dir)
	"KEYTRAIL_DATA_DIR",    // data directory of the embedded store (default ~/.local/share/keytrail)
	"KEYTRAIL_LOG_LEVEL",   // debug, info, warn, error (default info)
	"CHDB_LIB_PATH",        // libchdb.so for the embedded store (scripts/setup.sh installs it)
	"XDG_DATA_HOME",        // base of the default data dir
	"KEYTRAIL_SIGNING_KEY", // Ed25519 PEM key that signs evidence packs (default <data dir>/keys/report-ed25519.pem)
	"KEYTRAIL_POLICY",      // correlation policy YAML (default the built-in policy)
	"KEYTRAIL_ALERTS",      // alert targets YAML (default no alerts)
	"KEYTRAIL_CPUPROFILE",  // write a CPU profile of the run to this file
	"KEYTRAIL_CONFIG",      // collect config YAML (keytrail collect --config)
	// secrets named by docs/serve.example.yaml (any name a config gives is read)
	"KEYTRAIL_OKTA_HOOK_SECRET", "KEYTRAIL_SHIPPER_SECRET",
}

// openMigrated opens the store and applies any migration it lacks, so that
// commands that write work on a fresh store without a separate migrate.
func (e *env) openMigrated(ctx context.Context) (store.Store, error) {
	s, err := e.openStore(ctx)
	if err != nil {
		return nil, err
	}
	ran, err := schema.Migrate(ctx, s)
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("migrate %s: %w", store.Redact(e.storeURL), err)
	}
	for _, v := range ran {
		e.log.Debug("applied migration", "version", v)
	}
	return s, nil
}
