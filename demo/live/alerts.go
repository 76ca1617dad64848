package live

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/keytrail/keytrail/alert"
	"github.com/keytrail/keytrail/model"
)

// receiver is a webhook alert target on loopback that prints the alerts it
// receives: the first max in full, then only counts.
type receiver struct {
	url string
	srv *http.Server
	out io.Writer
	max int

	mu               sync.Mutex
	firing, resolved int
	printed          int
	done             chan error
}

func startReceiver(out io.Writer, max int) (*receiver, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("alert receiver: %w", err)
	}
	r := &receiver{url: "http://" + ln.Addr().String() + "/alerts", out: out, max: max, done: make(chan error, 1)}
	r.srv = &http.Server{Handler: http.HandlerFunc(r.serve), ReadHeaderTimeout: 10 * time.Second}
	go func() { r.done <- r.srv.Serve(ln) }()
	return r, nil
}

func (r *receiver) serve(w http.ResponseWriter, req *http.Request) {
	var p alert.WebhookPayload
	if err := json.NewDecoder(req.Body).Decode(&p); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, a := range p.Alerts {
		if a.Status == model.AlertResolved {
			r.resolved++
		} else {
			r.firing++
		}
		if r.printed < r.max {
			r.printed++
			fmt.Fprintf(r.out, "  alert %-8s %s — %s\n", a.Status, a.Summary, a.Reason)
			if r.printed == r.max {
				fmt.Fprintln(r.out, "  (further alerts are counted in the progress lines)")
			}
		}
	}
	w.WriteHeader(http.StatusNoContent)
}

// counts returns the alerts received so far: firing and resolved.
func (r *receiver) counts() (firing, resolved int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.firing, r.resolved
}

func (r *receiver) close() {
	_ = r.srv.Close()
	if err := <-r.done; !errors.Is(err, http.ErrServerClosed) {
		fmt.Fprintf(r.out, "alert receiver: %v\n", err)
	}
}
