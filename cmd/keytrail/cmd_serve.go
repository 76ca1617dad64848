package main

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/keytrail/keytrail/bus"
	"github.com/keytrail/keytrail/ingest"
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

// serveFile is the YAML file `keytrail serve` reads: the store and the
// server section. (The collect config will hold both, with the sources,
// Kafka, policy and alerts, and embed server.Config the same way.)
type serveFile struct {
	// Store is the store URL; default --store / KEYTRAIL_STORE.
	Store  string        `yaml:"store"`
	Server server.Config `yaml:"server"`
}

func loadServeFile(path string) (serveFile, error) {
	var f serveFile
	b, err := os.ReadFile(path)
	if err != nil {
		return f, err
	}
	if err := server.Decode(bytes.NewReader(b), &f); err != nil {
		return f, fmt.Errorf("%s: %w", path, err)
	}
	f.Server.ApplyDefaults()
	if err := f.Server.Validate(); err != nil {
		return f, fmt.Errorf("%s: server: %w", path, err)
	}
	return f, nil
}

// storePublisher is the embedded bus until the live pipeline's in-process
// bus and sink are wired here: Publish runs the records through the ingest
// path (split, normalize, drop stored ids, enrich, store) and returns once
// they are stored, the contract of an in-process bus.Publisher.
type storePublisher struct {
	w   *warehouse.Warehouse
	enr *warehouse.Enricher
	mu  sync.Mutex
}

func (p *storePublisher) Publish(ctx context.Context, recs ...bus.Record) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, r := range recs {
		n, _, err := normalizerFor(string(r.Source))
		if err != nil {
			return err
		}
		in := &ingest.Ingester{Normalizer: n, Instance: r.Instance, Sink: p.w, Enricher: p.enr, Now: func() time.Time { return r.ReceivedAt }}
		if _, err := in.Ingest(ctx, r.Origin, r.Raw); err != nil {
			return err
		}
	}
	return nil
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
	f, err := loadServeFile(*cfgPath)
	if err != nil {
		return err
	}
	if f.Store != "" && !e.storeExplicit {
		e.storeURL = f.Store
	}
	s, err := e.openMigrated(ctx)
	if err != nil {
		return err
	}
	defer s.Close()
	w := warehouse.New(s)
	enr, err := w.NewEnricher(ctx, nil)
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
	d := server.Deps{Publisher: &storePublisher{w: w, enr: enr}, Reader: w.API(), Reporter: w, Ready: ready,
		Console: w.API(), Verifier: w,
		Registry: reg, Logger: log, Version: version}
	if f.Server.Reports.SigningKey != "" {
		if d.SigningKey, err = report.LoadPrivateKey(f.Server.Reports.SigningKey); err != nil {
			return err
		}
	}
	srv, err := server.New(f.Server, d)
	if err != nil {
		return err
	}
	log.Info("keytrail serve", "version", version, "store", store.Redact(e.storeURL), "listen", f.Server.Listen)
	return srv.Run(ctx)
}
