package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/keytrail/keytrail/alert"
	"github.com/keytrail/keytrail/bus"
	"github.com/keytrail/keytrail/bus/kafka"
	"github.com/keytrail/keytrail/bus/memory"
	"github.com/keytrail/keytrail/config"
	"github.com/keytrail/keytrail/correlate"
	"github.com/keytrail/keytrail/ingest"
	"github.com/keytrail/keytrail/ingest/enrich"
	"github.com/keytrail/keytrail/ingest/sources"
	"github.com/keytrail/keytrail/model"
	"github.com/keytrail/keytrail/pipeline"
	"github.com/keytrail/keytrail/pipeline/correlation"
	"github.com/keytrail/keytrail/store"
	"github.com/keytrail/keytrail/warehouse"
)

func init() {
	register(&command{
		name:    "collect",
		summary: "run the live pipeline from a config: collectors → bus (in-process or Kafka) → store → streaming correlator, until SIGTERM",
		usage:   "collect --config FILE",
		run:     runCollect,
	})
	register(&command{
		name:    "config",
		summary: "check a collect config file: strict keys, every problem with its line, secrets readable",
		usage:   "config check [--skip-secrets] FILE",
		run:     runConfig,
	})
}

// collectConfigEnv names the collect config file when --config is not given.
const collectConfigEnv = "KEYTRAIL_CONFIG"

func runConfig(ctx context.Context, e *env, args []string) error {
	if len(args) == 0 || args[0] != "check" {
		return usagef("want a subcommand: check")
	}
	fs := flags("config check", e)
	skip := fs.Bool("skip-secrets", false, "check the file only, not that its secrets can be read")
	pos, err := parse(fs, args[1:])
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("want one FILE")
	}
	fmt.Fprintf(e.stdout, "checking %s\n", pos[0])
	c, err := config.LoadFile(pos[0])
	if err != nil {
		fmt.Fprintf(e.stdout, "  FAILED: %v\n", err)
		return errors.New("config is invalid")
	}
	describeConfig(e.stdout, c, e.storeURL)
	if !*skip {
		if err := c.CheckSecrets(); err != nil {
			fmt.Fprintf(e.stdout, "  FAILED: %v\n", err)
			return errors.New("config names secrets that cannot be read")
		}
	}
	fmt.Fprintln(e.stdout, "  SUCCESS")
	return nil
}

// describeConfig prints what a config runs, without secrets.
func describeConfig(w io.Writer, c *config.Config, fallbackStore string) {
	storeDesc := store.Redact(c.Store.URL)
	if c.Store.URL == "" {
		storeDesc = store.Redact(fallbackStore) + " (from --store / KEYTRAIL_STORE / the default)"
	} else if !c.Store.Password.IsZero() {
		storeDesc += " (password from " + c.Store.Password.String() + ")"
	}
	fmt.Fprintf(w, "  store:      %s\n", storeDesc)
	switch c.Bus {
	case config.BusKafka:
		fmt.Fprintf(w, "  bus:        kafka %v, sink group %s\n", c.Kafka.Brokers, c.Kafka.GroupID)
	default:
		fmt.Fprintf(w, "  bus:        in-process (embedded)\n")
	}
	corr := "off"
	if c.Correlator.On() {
		corr = fmt.Sprintf("on (window %s, alerts to %d targets)", c.Correlator.Window, alertTargets(c))
	}
	fmt.Fprintf(w, "  correlator: %s\n", corr)
	fmt.Fprintf(w, "  sources:    %d\n", len(c.Sources))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, name := range c.SourceNames() {
		s := c.Sources[name]
		what := "poll"
		switch {
		case s.KafkaTopic != nil:
			what = fmt.Sprintf("consume topic %s from %v", s.Topic, s.KafkaTopic.Brokers)
		case s.Webhook != nil:
			what = "webhook " + s.Webhook.Path + " (served by keytrail serve)"
		case c.Bus == config.BusKafka:
			what = "poll → topic " + s.Topic
		}
		if s.Disabled {
			what = "disabled"
		}
		fmt.Fprintf(tw, "    %s\t%s\t%s\t%s\n", name, s.Type, s.Instance, what)
	}
	tw.Flush()
}

func alertTargets(c *config.Config) int {
	if c.Alerts == nil {
		return 0
	}
	return len(c.Alerts.Targets)
}

// collectorFactory builds the collector of a polled source: a component
// that polls the provider, publishes to pub and advances its cursor only
// after Publish returned nil, and a probe of its state for status.
type collectorFactory func(ctx context.Context, src *config.Source, pub bus.Publisher, w *warehouse.Warehouse, e *env) (pipeline.Component, func() pipeline.CollectorState, error)

// collectorFactories are the collectors by source type. The pollers (package
// collect) register here; a polled source whose type has none is reported
// and skipped.
var collectorFactories = map[string]collectorFactory{}

// errNoCollector marks a source type without a collector in this build.
var errNoCollector = errors.New("no collector for this source type in this build")

func runCollect(ctx context.Context, e *env, args []string) error {
	fs := flags("collect", e)
	path := fs.String("config", envOr(collectConfigEnv, ""), "collect config YAML (env "+collectConfigEnv+")")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("unexpected argument %q", pos[0])
	}
	if *path == "" {
		return usagef("--config is required")
	}
	cfg, err := config.LoadFile(*path)
	if err != nil {
		return err
	}
	if err := cfg.CheckSecrets(); err != nil {
		return err
	}
	url, err := cfg.StoreURL(e.storeURL)
	if err != nil {
		return err
	}
	e.storeURL = url
	s, err := e.openMigrated(ctx)
	if err != nil {
		return err
	}
	defer s.Close()
	return collectWith(ctx, e, cfg, warehouse.New(s))
}

// collectWith runs cfg's pipeline over w until ctx ends, then prints its
// summary.
func collectWith(ctx context.Context, e *env, cfg *config.Config, w *warehouse.Warehouse) error {
	r, err := newCollectRun(ctx, e, cfg, w)
	if r != nil {
		defer r.close(ctx)
	}
	if err != nil {
		return err
	}
	e.log.Info("collecting", "sources", len(cfg.Sources), "bus", cfg.Bus, "store", store.Redact(e.storeURL), "collectors", len(r.stages[0].Components), "sinks", len(r.sinks))
	runErr := r.pipeline().Run(ctx)
	r.summary(e.stdout)
	if err := closeNotifier(ctx, e, r.notifier); runErr == nil {
		runErr = err
	}
	return runErr
}

// collectRun is one `keytrail collect`: its components and what they hold.
type collectRun struct {
	cfg      *config.Config
	e        *env
	stages   []pipeline.Stage
	sinks    []*pipeline.Sink
	notifier *alert.Notifier
	closers  []func() error
}

func (r *collectRun) pipeline() *pipeline.Pipeline {
	return &pipeline.Pipeline{Stages: r.stages, ShutdownTimeout: r.cfg.ShutdownTimeout, Logger: r.e.log}
}

// close releases the bus clients, in reverse order of creation.
func (r *collectRun) close(context.Context) {
	for i := len(r.closers) - 1; i >= 0; i-- {
		if err := r.closers[i](); err != nil {
			r.e.log.Warn("close", "err", err)
		}
	}
}

func (r *collectRun) summary(w io.Writer) {
	for _, s := range r.sinks {
		st := s.Stats()
		fmt.Fprintf(w, "sink %s: %d records, %d stored, %d duplicates, %d conflicts, %d dead letters in %d writes (%d failed writes retried)\n",
			s.Name(), st.Records, st.Accepted, st.Duplicates, st.Conflicts, st.DeadLetters, st.Writes, st.StoreFailures)
	}
}

// newCollectRun wires cfg: the bus, one sink per subscriber, the
// collectors, the correlator and the status writer.
func newCollectRun(ctx context.Context, e *env, cfg *config.Config, w *warehouse.Warehouse) (*collectRun, error) {
	r := &collectRun{cfg: cfg, e: e}
	opts := pipeline.Options{Logger: e.log}
	var statuses []model.SourceStatus
	for _, name := range cfg.SourceNames() {
		src := cfg.Sources[name]
		if !src.Disabled && src.Webhook == nil {
			statuses = append(statuses, model.SourceStatus{Name: name, Type: src.Type, Source: model.Source(src.Format()), Instance: src.Instance})
		}
	}
	status := pipeline.NewStatus(statuses)

	enr, err := enrich.New(ctx, w, nil)
	if err != nil {
		return r, err
	}
	// On the in-process bus this process's sinks are the store's writers:
	// the correlator reads the rows they stored since its last poll
	// (pipeline.Writes) and re-reads its overlap only now and then.
	var target ingest.Sink = w
	var floor func() uint64
	if cfg.Bus != config.BusKafka {
		writes := pipeline.NewWrites(w.NextVersion)
		target, floor = writes.Sink(w), writes.Floor
	}
	writer := pipeline.NewWriter(target, enr, sources.Normalizer, nil)

	var corr *pipeline.Correlator
	var late []pipeline.Component
	var progress *pipeline.Progress // set once the collectors are wired
	if cfg.Correlator.On() {
		if cfg.Alerts != nil {
			n, err := alert.New(*cfg.Alerts, alert.Options{Logger: e.log, Recorder: w.AlertRecorder(), History: w.AlertRecorder()})
			if err != nil {
				return r, fmt.Errorf("alerts: %w", err)
			}
			r.notifier = n
		}
		live, err := correlation.NewLive(ctx, w, cfg.Policy, correlation.LiveOptions{Notifier: r.notifier, Logger: e.log, PollOverlap: cfg.Correlator.PollOverlap, Floor: floor, OnUpdate: e.liveUpdate})
		if err != nil {
			return r, err
		}
		corr = pipeline.NewCorrelator(pipeline.CorrelatorConfig{Since: time.Now().Add(-cfg.Correlator.Window), Interval: cfg.Correlator.Interval,
			Backoff: pipeline.Backoff(cfg.Sink.Backoff), Progress: func(ctx context.Context) (map[correlate.SourceKey]time.Time, error) {
				return progress.Stored(ctx)
			}}, live, opts)
		late = append(late, corr)
	}
	late = append(late, pipeline.NewStatusWriter(status, w, cfg.StatusInterval, opts))

	sinkOpts := opts
	sinkOpts.Status = status
	sinkOpts.Stored = func([]bus.Record, pipeline.Results) {
		if corr != nil {
			corr.Notify()
		}
	}

	// The bus the collectors publish to, and the sink that drains it.
	var pub bus.Publisher
	var barrier pipeline.Barrier // nil: the in-process bus's Publish returns once stored
	var polled []string          // the sources whose collectors report how far they are complete
	var collectorsStage []pipeline.Component
	var sinks []pipeline.Component
	switch cfg.Bus {
	case config.BusKafka:
		conn, err := kafkaConn(cfg.Kafka.Brokers, cfg.Kafka.ClientID, cfg.Kafka.SASL, cfg.Kafka.TLS, e)
		if err != nil {
			return r, err
		}
		topics := busTopics(cfg)
		if *cfg.Kafka.CreateTopics {
			if err := kafka.EnsureTopics(ctx, conn, topics, cfg.Kafka.Partitions, cfg.Kafka.ReplicationFactor); err != nil {
				return r, err
			}
		}
		p, err := newBusProducer(cfg, conn)
		if err != nil {
			return r, err
		}
		r.closers = append(r.closers, p.Close)
		pub = p
		if len(topics) > 0 {
			c, err := kafka.NewConsumer(kafka.ConsumerConfig{Conn: conn, GroupID: cfg.Kafka.GroupID, Topics: topics})
			if err != nil {
				return r, err
			}
			r.closers = append(r.closers, c.Close)
			barrier = kafkaBarrier{c}
			sink := pipeline.NewSink(sinkConfig(cfg, "bus"), c, writer, sinkOpts)
			r.sinks = append(r.sinks, sink)
			sinks = append(sinks, sink)
		}
	default:
		b := memory.New(cfg.Memory.Capacity)
		sub := b.Subscribe()
		r.closers = append(r.closers, b.Close, sub.Close)
		pub = b
		sink := pipeline.NewSink(sinkConfig(cfg, "bus"), sub, writer, sinkOpts)
		r.sinks = append(r.sinks, sink)
		sinks = append(sinks, sink)
	}

	for _, name := range cfg.SourceNames() {
		src := cfg.Sources[name]
		switch {
		case src.Disabled:
			e.log.Info("source disabled", "source", name)
		case src.Webhook != nil:
			e.log.Info("webhook source: served by keytrail serve, not by collect", "source", name, "path", src.Webhook.Path)
		case src.KafkaTopic != nil:
			k := src.KafkaTopic
			conn, err := kafkaConn(k.Brokers, "keytrail", k.SASL, k.TLS, e)
			if err != nil {
				return r, fmt.Errorf("source %s: %w", name, err)
			}
			c, err := kafka.NewConsumer(kafka.ConsumerConfig{Conn: conn, GroupID: k.GroupID, Topics: []string{src.Topic},
				Source: model.Source(k.Format), Instance: src.Instance, Start: k.Start})
			if err != nil {
				return r, fmt.Errorf("source %s: %w", name, err)
			}
			r.closers = append(r.closers, c.Close)
			status.Probe(name, topicProbe(c))
			sink := pipeline.NewSink(sinkConfig(cfg, name), c, writer, sinkOpts)
			r.sinks = append(r.sinks, sink)
			sinks = append(sinks, sink)
		default:
			factory, ok := collectorFactories[src.Type]
			if !ok {
				e.log.Warn("source skipped", "source", name, "type", src.Type, "err", errNoCollector)
				continue
			}
			c, probe, err := factory(ctx, src, pub, w, e)
			if err != nil {
				return r, fmt.Errorf("source %s: %w", name, err)
			}
			status.Probe(name, probe)
			polled = append(polled, name)
			collectorsStage = append(collectorsStage, c)
		}
	}
	progress = pipeline.NewProgress(status, polled, barrier)
	r.stages = []pipeline.Stage{
		{Name: "collectors", Components: collectorsStage},
		{Name: "sinks", Components: sinks},
		{Name: "correlator", Components: late},
	}
	return r, nil
}

// kafkaBarrier is the Kafka bus as the correlator's progress sees it: the
// bus topics' end offsets and the sink group's committed ones.
type kafkaBarrier struct{ c *kafka.Consumer }

// Offsets implements pipeline.Barrier.
func (b kafkaBarrier) Offsets(ctx context.Context) (end, stored pipeline.BusOffsets, err error) {
	pos, err := b.c.Position(ctx)
	if err != nil {
		return nil, nil, err
	}
	return pos.End, pos.Committed, nil
}

// topicProbe reports a consumed topic's committed offsets as the source's
// cursor and the messages behind them as its backlog.
func topicProbe(c *kafka.Consumer) func() pipeline.CollectorState {
	var last pipeline.CollectorState
	return func() pipeline.CollectorState {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		pos, err := c.Position(ctx)
		now := time.Now()
		if err != nil {
			last.LastError, last.LastErrorAt = err.Error(), now
			return last
		}
		last.Cursor, last.Backlog, last.LastSuccess = pos.String(), pos.Backlog, now
		return last
	}
}

// busTopics are the Kafka bus's topics: the topic of every source that
// publishes to the bus — disabled ones too, whose collectors (or keytrail
// serve's webhooks) may run in another process — and of every sender of
// the server section's intake.
func busTopics(cfg *config.Config) []string {
	var topics []string
	add := func(t string) {
		if !slices.Contains(topics, t) {
			topics = append(topics, t)
		}
	}
	for _, n := range cfg.SourceNames() {
		if src := cfg.Sources[n]; src.KafkaTopic == nil {
			add(src.Topic)
		}
	}
	if sv := cfg.Server; sv != nil {
		if len(sv.Intake.Okta) > 0 {
			add(cfg.Kafka.TopicPrefix + string(model.SourceOkta))
		}
		for _, sh := range sv.Intake.Shippers {
			add(busTopic(cfg, sh.Source, sh.Instance))
		}
		if len(sv.Intake.IDTokens) > 0 {
			add(cfg.Kafka.TopicPrefix + string(model.SourceOIDC))
		}
	}
	return topics
}

// busTopic is the Kafka bus topic of src's records from instance: the
// topic of the source of that format and instance, else
// <topic_prefix><source>.
func busTopic(cfg *config.Config, src model.Source, instance string) string {
	return busTopicOf(cfg)(src, instance)
}

// busTopicOf returns busTopic over cfg's sources, looked up once.
func busTopicOf(cfg *config.Config) func(src model.Source, instance string) string {
	topicOf := map[string]string{} // format/instance → topic
	for _, s := range cfg.Sources {
		if s.KafkaTopic == nil {
			topicOf[s.Format()+"/"+s.Instance] = s.Topic
		}
	}
	return func(src model.Source, instance string) string {
		if t, ok := topicOf[string(src)+"/"+instance]; ok {
			return t
		}
		return cfg.Kafka.TopicPrefix + string(src)
	}
}

// newBusProducer is the Kafka bus's producer: each record to its busTopic.
func newBusProducer(cfg *config.Config, conn kafka.Conn) (*kafka.Producer, error) {
	topic := busTopicOf(cfg)
	return kafka.NewProducer(kafka.ProducerConfig{Conn: conn, Topic: func(rec bus.Record) string {
		return topic(rec.Source, rec.Instance)
	}})
}

// sinkConfig is the config's sink settings for the sink called name.
func sinkConfig(cfg *config.Config, name string) pipeline.SinkConfig {
	return pipeline.SinkConfig{Name: name, BatchSize: cfg.Sink.BatchSize, MaxWait: cfg.Sink.MaxWait, Idle: cfg.Sink.Idle, FlushTimeout: cfg.Sink.FlushTimeout,
		Backoff: pipeline.Backoff(cfg.Sink.Backoff)}
}

// kafkaConn is the bus/kafka connection a config's Kafka settings describe,
// with their secrets read.
func kafkaConn(brokers []string, clientID string, sasl *config.SASL, t *config.TLS, e *env) (kafka.Conn, error) {
	conn := kafka.Conn{Brokers: brokers, ClientID: clientID, Logger: e.log}
	if sasl != nil {
		pw, err := sasl.Password.Value()
		if err != nil {
			return conn, fmt.Errorf("kafka sasl password: %w", err)
		}
		conn.SASL = &kafka.SASL{Mechanism: sasl.Mechanism, Username: sasl.Username, Password: pw}
	}
	tc, err := t.Config()
	if err != nil {
		return conn, err
	}
	conn.TLS = tc
	return conn, nil
}
