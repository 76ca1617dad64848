package emulator

import (
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/keytrail/keytrail/demo"
	"github.com/keytrail/keytrail/model"
)

// CollectConfig says what a `keytrail collect` config pointing at a Server
// holds beside its sources.
type CollectConfig struct {
	// Head is YAML put before the sources section verbatim: bus, sink,
	// correlator, alerts and the other top-level keys.
	Head string
	// Poll is every source's poll setting, a YAML flow map
	// ("{interval: 300ms, timeout: 10s}"). Default none (collect's defaults).
	Poll string
	// Start is where every collector starts reading. Required.
	Start time.Time
	// IdPStart, when set, is where the IdP collectors start instead: before
	// Start, to read the key registrations made before the organisation's
	// period (a key enrolled then and removed within the period is in no
	// inventory snapshot; only its registration shows it hardware-backed).
	IdPStart time.Time
	// Lag, when set, is every IdP source's lag: how late the provider may
	// list a record (Entra, Google and Keycloak re-read a window that old;
	// Okta counts itself complete only that far back). Default none (each
	// collector's default).
	Lag time.Duration
}

// WriteCollectConfig writes into dir a `keytrail collect` config whose
// sources are every provider s serves (Okta, Entra, Google, Keycloak and
// each Airflow deployment), with the secrets they need in files beside it,
// and returns the config's path.
func (s *Server) WriteCollectConfig(dir string, c CollectConfig) (string, error) {
	cr := s.Creds
	der, err := x509.MarshalPKCS8PrivateKey(cr.Key)
	if err != nil {
		return "", fmt.Errorf("collect config: %w", err)
	}
	sa, err := json.Marshal(map[string]string{"type": "service_account", "client_email": cr.ServiceAccount, "private_key_id": "k1",
		"private_key": string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})), "token_uri": s.GoogleTokenURL()})
	if err != nil {
		return "", fmt.Errorf("collect config: %w", err)
	}
	secrets := map[string][]byte{"google-sa.json": sa, "okta-token": []byte(cr.OktaToken),
		"client-secret": []byte(cr.ClientSecret), "airflow-password": []byte(cr.AirflowPassword)}
	for name, b := range secrets {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			return "", fmt.Errorf("collect config: %w", err)
		}
	}
	file := func(name string) string { return fmt.Sprintf("{file: %q}", filepath.Join(dir, name)) }
	start := c.Start.UTC().Format(time.RFC3339)
	idpStart := start
	if !c.IdPStart.IsZero() {
		idpStart = c.IdPStart.UTC().Format(time.RFC3339)
	}
	poll, lag := "", ""
	if c.Poll != "" {
		poll = "\n    poll: " + c.Poll
	}
	if c.Lag > 0 {
		lag = "\n    lag: " + c.Lag.String()
	}
	var b strings.Builder
	b.WriteString(strings.TrimRight(c.Head, "\n"))
	fmt.Fprintf(&b, `
sources:
  okta:
    type: okta
    instance: %s
    base_url: %s
    token: %s
    start: %s%s%s
  entra:
    type: entra
    instance: %s
    tenant_id: %s
    client_id: %s
    client_secret: %s
    login_url: %s
    graph_url: %s
    start: %s%s%s
  google:
    type: google
    instance: %s
    service_account_key: %s
    subject: %s
    base_url: %s
    start: %s%s%s
  keycloak:
    type: keycloak
    instance: %s
    base_url: %s
    realm: %s
    client_id: %s
    client_secret: %s
    start: %s%s%s
`,
		demo.IdPInstance(model.SourceOkta), s.OktaURL(), file("okta-token"), idpStart, poll, lag,
		demo.IdPInstance(model.SourceEntra), cr.Tenant, cr.ClientID, file("client-secret"), s.EntraLoginURL(), s.GraphURL(), idpStart, poll, lag,
		demo.IdPInstance(model.SourceGoogle), file("google-sa.json"), cr.Admin, s.GoogleURL(), idpStart, poll, lag,
		demo.IdPInstance(model.SourceKeycloak), s.KeycloakURL(), cr.Realm, cr.ClientID, file("client-secret"), idpStart, poll, lag)
	for _, in := range s.Data.Org.Config().Instances {
		api := "v2"
		if in.Version == demo.Airflow210 {
			api = "v1"
		}
		fmt.Fprintf(&b, `  airflow-%s:
    type: airflow
    instance: %s
    base_url: %s
    api: %s
    username: %s
    password: %s
    runs: {start: %s}%s
`, in.Name, in.Name, s.AirflowURL(in.Name), api, cr.AirflowUser, file("airflow-password"), start, poll)
	}
	path := filepath.Join(dir, "collect.yaml")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		return "", fmt.Errorf("collect config: %w", err)
	}
	return path, nil
}
