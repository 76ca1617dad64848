package emulator

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/http"
	"slices"
	"time"

	"github.com/keytrail/keytrail/demo"
)

// Server serves every provider of an organisation from one loopback
// listener: Okta under /okta, Microsoft under /entra (/entra/login for
// tokens, /entra/graph for Graph), Google under /google, Keycloak under
// /keycloak and each Airflow deployment under /airflow/<instance>.
type Server struct {
	// URL is the server's base URL, http://127.0.0.1:<port>.
	URL      string
	Creds    Credentials
	Data     *Data
	Okta     *Okta
	Entra    *Entra
	Google   *Google
	Keycloak *Keycloak
	Airflow  map[string]*Airflow

	srv  *http.Server
	done chan error
}

// Start serves org on a free loopback port. When opts.Creds has no key,
// NewCredentials fills it.
func Start(org *demo.Org, opts Options) (*Server, error) {
	if opts.Creds.Key == nil {
		c, err := NewCredentials()
		if err != nil {
			return nil, err
		}
		opts.Creds = c
	}
	data := NewData(org, opts.Faults)
	s := &Server{Creds: opts.Creds, Data: data, Airflow: map[string]*Airflow{}, done: make(chan error, 1)}
	mux := http.NewServeMux()
	s.Okta = NewOkta(data, opts)
	s.Okta.Prefix = "/okta"
	mux.Handle("/okta/", s.Okta)
	s.Entra = NewEntra(data, opts)
	s.Entra.Prefix = "/entra"
	mux.Handle("/entra/", s.Entra)
	s.Google = NewGoogle(data, opts)
	s.Google.Prefix = "/google"
	mux.Handle("/google/", s.Google)
	s.Keycloak = NewKeycloak(data, opts)
	s.Keycloak.Prefix = "/keycloak"
	mux.Handle("/keycloak/", s.Keycloak)
	for _, in := range org.Config().Instances {
		a, err := NewAirflow(data, in.Name, opts)
		if err != nil {
			return nil, err
		}
		a.Prefix = "/airflow/" + in.Name
		s.Airflow[in.Name] = a
		mux.Handle(a.Prefix+"/", a)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("emulator listen: %w", err)
	}
	s.URL = "http://" + ln.Addr().String()
	s.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { s.done <- s.srv.Serve(ln) }()
	return s, nil
}

// Close stops the server.
func (s *Server) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := s.srv.Shutdown(ctx)
	if errors.Is(err, context.DeadlineExceeded) {
		err = s.srv.Close() // a held answer (Faults.Slow) need not be waited for
	}
	if serr := <-s.done; !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = serr
	}
	return err
}

// OktaURL is the Okta org's base URL.
func (s *Server) OktaURL() string { return s.URL + "/okta" }

// EntraLoginURL is the Microsoft identity platform's base URL (the tenant
// and /oauth2/v2.0/token follow).
func (s *Server) EntraLoginURL() string { return s.URL + "/entra/login" }

// GraphURL is Microsoft Graph's base URL (/beta and /v1.0 follow).
func (s *Server) GraphURL() string { return s.URL + "/entra/graph" }

// GoogleURL is the Admin SDK's base URL (/admin/reports/v1/… follows).
func (s *Server) GoogleURL() string { return s.URL + "/google" }

// GoogleTokenURL is the service accounts' token endpoint.
func (s *Server) GoogleTokenURL() string { return s.URL + "/google/token" }

// KeycloakURL is the Keycloak server's base URL (/realms and /admin follow).
func (s *Server) KeycloakURL() string { return s.URL + "/keycloak" }

// AirflowURL is an Airflow deployment's base URL (/api/v1 or /api/v2 and
// /auth/token follow).
func (s *Server) AirflowURL(instance string) string { return s.URL + "/airflow/" + instance }

// Ledgers returns every emulator's ledger by name: okta, entra, google,
// keycloak and airflow/<instance>.
func (s *Server) Ledgers() map[string]*Ledger {
	out := map[string]*Ledger{"okta": s.Okta.Ledger(), "entra": s.Entra.Ledger(), "google": s.Google.Ledger(), "keycloak": s.Keycloak.Ledger()}
	for _, name := range slices.Sorted(maps.Keys(s.Airflow)) {
		out["airflow/"+name] = s.Airflow[name].Ledger()
	}
	return out
}

// EventIDs returns the ids of every record any emulator served, with how
// many times (see Ledger.EventIDs).
func (s *Server) EventIDs() (map[string]int, error) {
	out := map[string]int{}
	for name, l := range s.Ledgers() {
		ids, err := l.EventIDs()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		for k, v := range ids {
			out[k] += v
		}
	}
	return out, nil
}
