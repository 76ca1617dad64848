package server_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/keytrail/keytrail/bus"
	"github.com/keytrail/keytrail/ingest"
	"github.com/keytrail/keytrail/ingest/enrich"
	"github.com/keytrail/keytrail/ingest/sources"
	"github.com/keytrail/keytrail/internal/oidctest"
	"github.com/keytrail/keytrail/internal/syncbuf"
	"github.com/keytrail/keytrail/model"
	"github.com/keytrail/keytrail/schema"
	"github.com/keytrail/keytrail/server"
	"github.com/keytrail/keytrail/store"
	_ "github.com/keytrail/keytrail/store/chdb"
	_ "github.com/keytrail/keytrail/store/clickhouse"
	"github.com/keytrail/keytrail/store/storetest"
	"github.com/keytrail/keytrail/warehouse"
)

// logs captures every log line of every server the tests run; secrets
// lists every secret and token they used. TestMain fails the run when any
// log line holds one.
var (
	logs    syncBuffer
	secrets struct {
		sync.Mutex
		list []string
	}
)

type syncBuffer = syncbuf.Buffer

// secret records s as a value no log line may contain.
func secret(s string) string {
	secrets.Lock()
	secrets.list = append(secrets.list, s)
	secrets.Unlock()
	return s
}

func TestMain(m *testing.M) {
	code := storetest.Main(m)
	out := logs.String()
	if code == 0 && !strings.Contains(out, `"request_id"`) {
		fmt.Fprintln(os.Stderr, "log capture holds no request log line: the secrets check tested nothing")
		code = 1
	}
	secrets.Lock()
	for _, s := range secrets.list {
		if len(s) >= 8 && strings.Contains(out, s) {
			fmt.Fprintf(os.Stderr, "a secret or token used by the tests appears in the server logs (%d bytes, starting %.6s…)\n", len(s), s)
			code = 1
		}
	}
	fmt.Fprintf(os.Stderr, "log secrets check: %d secrets and tokens against %d bytes of server logs\n", len(secrets.list), len(out))
	secrets.Unlock()
	os.Exit(code)
}

// engines opens a fresh migrated store on each engine.
func engines(t *testing.T) map[string]store.Store {
	t.Helper()
	ctx := context.Background()
	srv := storetest.SharedServer(t)
	out := map[string]store.Store{}
	for name, url := range map[string]string{
		"chdb":       storetest.EmbeddedURL(t),
		"clickhouse": srv.URL(storetest.FreshDB(t)),
	} {
		s, err := store.Open(ctx, url)
		require.NoError(t, err, name)
		t.Cleanup(func() { s.Close() })
		_, err = schema.Migrate(ctx, s)
		require.NoError(t, err, name)
		out[name] = s
	}
	return out
}

// ingestBus is a minimal in-process bus.Publisher for the tests: Publish
// hands each record to the existing ingest path (split, normalize, drop
// stored ids, enrich, store) and returns once it is stored. (The live
// pipeline's bus/memory replaces it once it is on main.)
type ingestBus struct {
	w   *warehouse.Warehouse
	enr *enrich.Enricher

	mu        sync.Mutex
	published []bus.Record
	fail      error
}

func newIngestBus(t testing.TB, w *warehouse.Warehouse) *ingestBus {
	enr, err := enrich.New(context.Background(), w, nil)
	require.NoError(t, err)
	return &ingestBus{w: w, enr: enr}
}

func normalizer(src model.Source) ingest.Normalizer {
	n, err := sources.Normalizer(src)
	if err != nil {
		return nil
	}
	return n
}

func (b *ingestBus) Publish(ctx context.Context, recs ...bus.Record) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.fail != nil {
		return b.fail
	}
	for _, r := range recs {
		in := &ingest.Ingester{Normalizer: normalizer(r.Source), Instance: r.Instance, Sink: b.w, Enricher: b.enr,
			Now: func() time.Time { return r.ReceivedAt }}
		if _, err := in.Ingest(ctx, r.Origin, r.Raw); err != nil {
			return err
		}
		b.published = append(b.published, r)
	}
	return nil
}

// harness is a running server on loopback with a local OIDC issuer.
type harness struct {
	URL    string
	Issuer *oidctest.Issuer
	Srv    *server.Server
	Bus    *ingestBus
	Cfg    server.Config
	Keys   map[string]string // secret name → value
}

const (
	audience   = "keytrail-api"
	idAudience = "airflow"
)

// start runs a server with cfg adjusted by the harness (intake and API
// pointing at its issuer, secrets in env vars) on w.
func start(t testing.TB, w *warehouse.Warehouse, mod func(*server.Config, *server.Deps)) *harness {
	t.Helper()
	h := &harness{Issuer: oidctest.New(t), Keys: map[string]string{}}
	for _, name := range []string{"OKTA_HOOK", "SHIP_AIRFLOW", "SHIP_OKTA", "SHIP_ENTRA", "SHIP_GOOGLE", "SHIP_KEYCLOAK", "IDTOK"} {
		v := secret(fmt.Sprintf("%s-secret-%d-%d", strings.ToLower(name), time.Now().UnixNano(), len(h.Keys)))
		env := "KT_TEST_" + name + "_" + strconv.Itoa(int(time.Now().UnixNano()%1e9))
		t.Setenv(env, v)
		h.Keys[name] = env
	}
	key := func(n string) server.Secret { return server.Secret{Env: h.Keys[n]} }
	cfg := server.Config{
		Listen: "127.0.0.1:0",
		API: server.APIAuth{Issuer: h.Issuer.URL, Audience: audience,
			Roles: server.RoleMap{Auditor: []string{"kt-auditors"}, Admin: []string{"kt-admins"}}},
		Intake: server.Intake{
			Okta: []server.OktaHook{{Instance: "acme", Authorization: key("OKTA_HOOK")}},
			Shippers: []server.Shipper{
				{Source: model.SourceAirflow, Instance: "af-prod", Secret: key("SHIP_AIRFLOW")},
				{Source: model.SourceOkta, Instance: "acme", Secret: key("SHIP_OKTA")},
			},
			IDTokens: []server.IDTokenIssuer{{Instance: "proxy", Issuer: h.Issuer.URL, Audience: idAudience, Secret: key("IDTOK")}},
		},
		BodyLimits: server.BodyLimits{Ingest: 1 << 20, Token: 16 << 10},
		Reports:    server.Reports{Dir: t.TempDir(), SigningKey: "unused-in-tests", Organisation: "Acme Ltd"},
	}
	d := server.Deps{
		Logger:     slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		SigningKey: ed25519.NewKeyFromSeed(bytes.Repeat([]byte{9}, 32)),
		Version:    "test",
	}
	if w != nil {
		h.Bus = newIngestBus(t, w)
		d.Publisher, d.Reader, d.Reporter = h.Bus, w.API(), w
	} else {
		d.Publisher = &ingestBus{}
	}
	// The listener comes first, so mod can name the server's address
	// (the console's redirect URL) from cfg.Listen.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	cfg.Listen = ln.Addr().String()
	if mod != nil {
		mod(&cfg, &d)
	}
	srv, err := server.New(cfg, d)
	if err != nil {
		ln.Close()
	}
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
	})
	h.URL, h.Srv, h.Cfg = "http://"+ln.Addr().String(), srv, cfg
	return h
}

// secretOf returns the value of the harness secret name.
func (h *harness) secretOf(name string) string { return os.Getenv(h.Keys[name]) }

// token mints an API token with groups.
func (h *harness) token(groups ...string) string {
	c := h.Issuer.Claims("ana", audience)
	c["groups"] = groups
	return secret(h.Issuer.Mint(c))
}

// do sends a request and returns the status and body.
func do(t testing.TB, method, url string, body []byte, hdr map[string]string) (int, []byte, http.Header) {
	t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	require.NoError(t, err)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, b, resp.Header
}

// signed returns the signature headers of body under the harness secret name.
func (h *harness) signed(name string, body []byte, at time.Time) map[string]string {
	return map[string]string{
		server.DefaultTimestampHeader: strconv.FormatInt(at.Unix(), 10),
		server.DefaultSignatureHeader: server.Sign([]byte(h.secretOf(name)), at.Unix(), body),
	}
}
