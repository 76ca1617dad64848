package okta_test

import (
	"context"
	"fmt"
	"os"

	"github.com/jonboulle/clockwork"

	"github.com/keytrail/keytrail/collect"
	"github.com/keytrail/keytrail/collect/collecttest"
	"github.com/keytrail/keytrail/collect/okta"
	"github.com/keytrail/keytrail/demo"
	"github.com/keytrail/keytrail/internal/emulator"
)

// Example collects an Okta org's System Log, here the emulator's, into a
// bus.Publisher until it has caught up.
func Example() {
	org, _ := demo.Generate(demo.Config{People: 8, Days: 1})
	clock := clockwork.NewFakeClockAt(org.Config().Start.AddDate(0, 0, 2)) // every event already listed
	srv, _ := emulator.Start(org, emulator.Options{Clock: clock})
	defer srv.Close()
	os.Setenv("OKTA_API_TOKEN", srv.Creds.OktaToken)

	opts := collect.Options{Clock: clock, Logger: collecttest.Quiet()}
	col, err := okta.New(okta.Config{
		Instance:    "acme",
		BaseURL:     srv.OktaURL(),
		Token:       collect.Secret{Env: "OKTA_API_TOKEN"},
		StartConfig: collect.StartConfig{Start: org.Config().Start},
		Inventory:   collect.InventoryConfig{Disabled: true},
	}, opts)
	if err != nil {
		fmt.Println(err)
		return
	}
	pub := &collecttest.Recorder{} // any bus.Publisher: Kafka, the in-process bus
	r := collect.NewRunner(col, pub, &collect.MemCursors{}, opts)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- r.Run(ctx) }()
	_ = clock.BlockUntilContext(ctx, 1) // caught up: waiting for its poll interval
	st := r.Status()[0]
	cancel()
	<-done
	fmt.Println(st.Collector, st.Stream, st.State, st.Published == int64(len(pub.Records())))
	// Output: okta/acme logs caught_up true
}
