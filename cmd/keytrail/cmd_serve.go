package main

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/keytrail/keytrail/bus"
	"github.com/keytrail/keytrail/bus/kafka"
	"github.com/keytrail/keytrail/bus/memory"
	"github.com/keytrail/keytrail/config"
	"github.com/keytrail/keytrail/ingest/enrich"
	"github.com/keytrail/keytrail/ingest/sources"
	"github.com/keytrail/keytrail/pipeline"
	"github.com/keytrail/keytrail/report"
	"github.com/keytrail/keytrail/schema"
	"github.com/keytrail/keytrail/server"
	"github.com/keytrail/keytrail/store"
	"github.com/keytrail/keytrail/warehouse"
)

func init() {
	register(&command{
		name:    "serve",
		summary: "run the HTTP service: webhooks and signed pushes, ID-token intake, the OIDC-protected API, health and metrics",
		usage:   "serve --config FILE",
		run:     runServe,
	})
}

// loadServeFile reads serve's config: the file keytrail collect reads
// (config.Config), of which serve uses the store, the bus (bus, memory,
// kafka, sink) and the server section, which it requires.
func loadServeFile(path string) (*config.Config, error) {
	c, err := config.LoadFile(path)
	if err != nil {
		return nil, err
	}
	if c.Server == nil {
		return nil, fmt.Errorf("%s: no server section", path)
	}
	return c, nil
}

func runServe(ctx context.Context, e *env, args []string) error {
	fs := flags("serve", e)
	cfgPath := fs.String("config", "", "YAML config file (store, server)")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	if *cfgPath == "" {
		return usagef("--config is required")
	}
	cfg, err := loadServeFile(*cfgPath)
	if err != nil {
		return err
	}
	if err := cfg.CheckSecrets(); err != nil {
		return err
	}
	if !e.storeExplicit {
		if e.storeURL, err = cfg.StoreURL(e.storeURL); err != nil {
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
	log := slog.New(slog.NewJSONHandler(e.stderr, nil))
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	ready := server.NewReadiness()
	ready.Register("store", func(ctx context.Context) error {
		_, err := s.Info(ctx)
		return err
	})
	ready.Register("schema", func(ctx context.Context) error {
		v, err := schema.Version(ctx, s)
		if err == nil && v != schema.Latest() {
			err = fmt.Errorf("schema version %d, want %d (run keytrail migrate)", v, schema.Latest())
		}
		return err
	})
	// Pushes go through the bus: in-process, to a sink in this process
	// that stores them before Publish returns; or Kafka, whose topics
	// keytrail collect's sink drains.
	var pub bus.Publisher
	var sinks []pipeline.Component
	switch cfg.Bus {
	case config.BusKafka:
		conn, err := kafkaConn(cfg.Kafka.Brokers, cfg.Kafka.ClientID, cfg.Kafka.SASL, cfg.Kafka.TLS, e)
		if err != nil {
			return err
		}
		if *cfg.Kafka.CreateTopics {
			if err := kafka.EnsureTopics(ctx, conn, busTopics(cfg), cfg.Kafka.Partitions, cfg.Kafka.ReplicationFactor); err != nil {
				return err
			}
		}
		p, err := newBusProducer(cfg, conn)
		if err != nil {
			return err
		}
		defer p.Close()
		pub = p
	default:
		b := memory.New(cfg.Memory.Capacity)
		sub := b.Subscribe()
		defer b.Close()
		defer sub.Close()
		pub = b
		sinks = append(sinks, pipeline.NewSink(sinkConfig(cfg, "intake"), sub, pipeline.NewWriter(w, enr, sources.Normalizer, nil), pipeline.Options{Logger: log}))
	}
	d := server.Deps{Publisher: pub, Reader: w.API(), Reporter: w, Ready: ready,
		Console: w.API(), Verifier: w,
		Registry: reg, Logger: log, Version: version}
	if cfg.Server.Reports.SigningKey != "" {
		if d.SigningKey, err = report.LoadPrivateKey(cfg.Server.Reports.SigningKey); err != nil {
			return err
		}
	}
	srv, err := server.New(*cfg.Server, d)
	if err != nil {
		return err
	}
	log.Info("keytrail serve", "version", version, "store", store.Redact(e.storeURL), "listen", cfg.Server.Listen, "bus", cfg.Bus)
	// On SIGTERM the server drains its requests first, then the sink
	// stores what the bus holds.
	return (&pipeline.Pipeline{Stages: []pipeline.Stage{
		{Name: "server", Components: []pipeline.Component{pipeline.ComponentFunc(srv.Run)}},
		{Name: "sinks", Components: sinks},
	}, ShutdownTimeout: cfg.Server.Timeouts.Shutdown + cfg.Sink.FlushTimeout, Logger: log}).Run(ctx)
}
