package collect_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/stretchr/testify/require"

	"github.com/keytrail/keytrail/bus"
	"github.com/keytrail/keytrail/bus/memory"
	"github.com/keytrail/keytrail/collect"
	"github.com/keytrail/keytrail/collect/collecttest"
	"github.com/keytrail/keytrail/model"
)

// script is a Stream that serves pages from a list, indexed by cursor
// ("" = page 0, "1" = page 1, …), failing as told.
type script struct {
	mu    sync.Mutex
	pages [][]string // record payloads per page
	fail  map[int][]error
	calls []string // cursors Next was called with
	at    []time.Time
	clock clockwork.Clock
}

func (s *script) Name() string { return "script" }

func (s *script) Next(_ context.Context, cursor string) (collect.Page, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = append(s.calls, cursor)
	s.at = append(s.at, s.clock.Now())
	i := 0
	if cursor != "" {
		fmt.Sscan(cursor, &i)
	}
	if errs := s.fail[i]; len(errs) > 0 {
		s.fail[i] = errs[1:]
		return collect.Page{}, errs[0]
	}
	if i >= len(s.pages) {
		return collect.Page{Cursor: cursor}, nil
	}
	var recs []bus.Record
	for _, p := range s.pages[i] {
		recs = append(recs, bus.Record{Source: model.SourceOkta, Instance: "t", Raw: []byte(p)})
	}
	return collect.Page{Records: recs, Cursor: fmt.Sprint(i + 1), More: true, Position: s.clock.Now().Add(-time.Minute)}, nil
}

// checkedCursors is a CursorStore that fails when told and checks that a
// cursor is saved only once its page's records were published.
type checkedCursors struct {
	collect.MemCursors
	pub        *collecttest.Recorder
	failures   int
	before     func(page int) int // records published before page's cursor may be saved
	violations []string
}

func (c *checkedCursors) Save(ctx context.Context, cur model.Cursor) error {
	if c.failures > 0 {
		c.failures--
		return errors.New("store down")
	}
	var n int
	fmt.Sscan(cur.Position, &n)
	if got := len(c.pub.Records()); got < c.before(n) {
		c.violations = append(c.violations, fmt.Sprintf("cursor %s saved with %d records published", cur.Position, got))
	}
	return c.MemCursors.Save(ctx, cur)
}

func TestRunner(t *testing.T) {
	rateLimited := func(clock clockwork.Clock) error {
		return &collect.HTTPError{Status: http.StatusTooManyRequests, RetryAt: clock.Now().Add(40 * time.Second)}
	}
	for _, tc := range []struct {
		name       string
		busFails   int
		storeFails int
		fail       func(clock clockwork.Clock) map[int][]error
		repeat     bool // page 2 repeats page 1's records
		check      func(t *testing.T, s *script, st collect.Status)
	}{
		{name: "clean"},
		{name: "bus down", busFails: 2},
		{name: "cursor store down", storeFails: 3},
		{name: "provider errors back off", fail: func(clockwork.Clock) map[int][]error {
			return map[int][]error{1: {errors.New("boom"), errors.New("boom"), errors.New("boom")}}
		}, check: func(t *testing.T, s *script, _ collect.Status) {
			var waits []time.Duration
			for i := 1; i < len(s.calls); i++ {
				if s.calls[i] == "1" && s.calls[i-1] == "1" {
					waits = append(waits, s.at[i].Sub(s.at[i-1]))
				}
			}
			require.Len(t, waits, 3)
			for i, w := range waits {
				require.Positive(t, w)
				require.LessOrEqual(t, w, 10*time.Second, "wait %d", i)
			}
		}},
		{name: "429 waits for the reset", fail: func(clock clockwork.Clock) map[int][]error {
			return map[int][]error{2: {rateLimited(clock)}}
		}, check: func(t *testing.T, s *script, _ collect.Status) {
			for i := 1; i < len(s.calls); i++ {
				if s.calls[i] == "2" && s.calls[i-1] == "2" {
					require.GreaterOrEqual(t, s.at[i].Sub(s.at[i-1]), 40*time.Second)
					return
				}
			}
			t.Fatal("page 2 never retried")
		}},
		{name: "records read again are published once", repeat: true, check: func(t *testing.T, _ *script, st collect.Status) {
			require.EqualValues(t, 2, st.Duplicates)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clock := clockwork.NewFakeClockAt(time.Date(2025, 3, 3, 0, 0, 0, 0, time.UTC))
			s := &script{clock: clock, fail: map[int][]error{}, pages: [][]string{{`{"n":1}`, `{"n":2}`}, {`{"n":3}`, `{"n":4}`}, {`{"n":5}`, `{"n":6}`}}}
			if tc.repeat {
				s.pages[2] = s.pages[1]
			}
			if tc.fail != nil {
				s.fail = tc.fail(clock)
			}
			pub := &collecttest.Recorder{FailEvery: map[bool]int{true: 2, false: 0}[tc.busFails > 0]}
			before := func(n int) int { return 2 * n }
			if tc.repeat {
				before = func(n int) int { return 2 * min(n, 2) }
			}
			cursors := &checkedCursors{pub: pub, failures: tc.storeFails, before: before}
			col := &collect.Collector{Source: model.SourceOkta, Instance: "t", Streams: []collect.Stream{s},
				Poll: collect.PollConfig{Interval: time.Minute, InitialBackoff: time.Second, MaxBackoff: 8 * time.Second}}
			r := collect.NewRunner(col, pub, cursors, collect.Options{Clock: clock, Logger: collecttest.Quiet()})
			collecttest.Drive(t, clock, 1, time.Second, clock.Now().Add(10*time.Minute), r)
			want := 6
			if tc.repeat {
				want = 4
			}
			require.Len(t, pub.Records(), want)
			require.Empty(t, cursors.violations)
			pos, ok, err := cursors.Load(context.Background(), "okta/t/script")
			require.NoError(t, err)
			require.True(t, ok)
			require.Equal(t, "3", pos)
			st := r.Status()[0]
			require.Equal(t, "3", st.Cursor)
			require.Empty(t, st.LastError, "cleared by the last success")
			require.GreaterOrEqual(t, st.Lag, time.Minute)
			require.Less(t, st.Lag, 2*time.Minute)
			require.True(t, st.Complete.IsZero(), "a stream that says nothing of its completeness is complete up to nothing")
			if tc.check != nil {
				tc.check(t, s, st)
			}
		})
	}
}

// TestRunnerStatusError: a stream that keeps failing shows its error and
// backs off no longer than MaxBackoff (with jitter).
func TestRunnerStatusError(t *testing.T) {
	clock := clockwork.NewFakeClockAt(time.Date(2025, 3, 3, 0, 0, 0, 0, time.UTC))
	s := &script{clock: clock, fail: map[int][]error{0: make([]error, 100)}}
	for i := range s.fail[0] {
		s.fail[0][i] = errors.New("provider says no")
	}
	col := &collect.Collector{Source: model.SourceOkta, Instance: "t", Streams: []collect.Stream{s},
		Poll: collect.PollConfig{InitialBackoff: time.Second, MaxBackoff: 30 * time.Second}}
	r := collect.NewRunner(col, &collecttest.Recorder{}, &collect.MemCursors{}, collect.Options{Clock: clock, Logger: collecttest.Quiet()})
	collecttest.Drive(t, clock, 1, time.Second, clock.Now().Add(20*time.Minute), r)
	st := r.Status()[0]
	require.Contains(t, st.LastError, "provider says no")
	require.Equal(t, collect.StateStopped, st.State)
	for i := 1; i < len(s.at); i++ {
		require.LessOrEqual(t, s.at[i].Sub(s.at[i-1]), 46*time.Second)
	}
	require.Greater(t, len(s.calls), 20)
}

func TestRunnerRejects(t *testing.T) {
	clock := clockwork.NewFakeClock()
	for name, col := range map[string]*collect.Collector{
		"no streams":   {Source: model.SourceOkta, Instance: "t"},
		"same streams": {Source: model.SourceOkta, Instance: "t", Streams: []collect.Stream{&script{clock: clock}, &script{clock: clock}}},
	} {
		r := collect.NewRunner(col, &collecttest.Recorder{}, &collect.MemCursors{}, collect.Options{Clock: clock})
		require.Error(t, r.Run(context.Background()), name)
	}
}

// mover is a Stream whose cursor is a page number: every read returns the
// next page, with records on the pages listed in full, and moves the
// cursor when move says so (an empty window walked, a caught-up page's new
// next link) or when the page has records.
type mover struct {
	full map[int]bool
	move bool
}

func (m *mover) Name() string { return "mover" }

func (m *mover) Next(_ context.Context, cursor string) (collect.Page, error) {
	var i int
	if cursor != "" {
		fmt.Sscan(cursor, &i)
	}
	if !m.full[i] {
		if m.move {
			return collect.Page{Cursor: fmt.Sprint(i + 1)}, nil
		}
		return collect.Page{Cursor: cursor}, nil
	}
	recs := []bus.Record{{Source: model.SourceOkta, Instance: "t", Raw: fmt.Appendf(nil, `{"page":%d}`, i)}}
	return collect.Page{Records: recs, Cursor: fmt.Sprint(i + 1)}, nil
}

// countedCursors counts saves and checks that each saved position's
// records were published before it.
type countedCursors struct {
	collect.MemCursors
	pub        *collecttest.Recorder
	full       map[int]bool
	saves      int
	violations []string
}

func (c *countedCursors) Save(ctx context.Context, cur model.Cursor) error {
	c.saves++
	var n int
	fmt.Sscan(cur.Position, &n)
	want := 0
	for p := range c.full {
		if p < n {
			want++
		}
	}
	if got := len(c.pub.Records()); got < want {
		c.violations = append(c.violations, fmt.Sprintf("cursor %s saved with %d of %d records published", cur.Position, got, want))
	}
	return c.MemCursors.Save(ctx, cur)
}

// TestRunnerCursorSaves: a cursor is saved after the records that moved it
// were published, at most every SaveInterval (and when the stream stops),
// never when it did not move, and at most every IdleSave when only pages
// without records moved it.
func TestRunnerCursorSaves(t *testing.T) {
	for _, tc := range []struct {
		name      string
		move      bool
		full      []int // pages with a record
		every     time.Duration
		saves     [2]int
		published int
	}{
		{name: "unchanged cursor is never saved", saves: [2]int{0, 0}},
		{name: "idle moves are saved every IdleSave", move: true, saves: [2]int{9, 11}},
		{name: "records are saved as each save ends", full: []int{0, 1, 2, 3, 4}, every: time.Millisecond, saves: [2]int{1, 5}, published: 5},
		{name: "records are saved every SaveInterval", full: []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, every: 5 * time.Second, saves: [2]int{2, 3}, published: 11},
		{name: "a stopping stream saves what it left for SaveInterval", full: []int{0, 1, 2, 3, 4}, every: time.Hour, saves: [2]int{1, 1}, published: 5},
		// A caught-up stream no longer waits for the save under way before
		// it reads again; under the fake clock a background save can end
		// after the clock moved on, so an idle save may come an interval or
		// a few late and one fewer fits the 5 minutes (11 in ~1 of 50 runs).
		{name: "records among idle moves", move: true, full: []int{3, 100, 101, 250}, saves: [2]int{11, 15}, published: 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clock := clockwork.NewFakeClockAt(time.Date(2025, 3, 3, 0, 0, 0, 0, time.UTC))
			full := map[int]bool{}
			for _, p := range tc.full {
				full[p] = true
			}
			pub := &collecttest.Recorder{}
			cursors := &countedCursors{pub: pub, full: full}
			col := &collect.Collector{Source: model.SourceOkta, Instance: "t", Streams: []collect.Stream{&mover{full: full, move: tc.move}},
				Poll: collect.PollConfig{Interval: time.Second, IdleSave: 30 * time.Second, SaveInterval: tc.every}}
			r := collect.NewRunner(col, pub, cursors, collect.Options{Clock: clock, Logger: collecttest.Quiet()})
			collecttest.Drive(t, clock, 1, time.Second, clock.Now().Add(5*time.Minute), r)
			require.Len(t, pub.Records(), tc.published)
			require.Empty(t, cursors.violations)
			require.GreaterOrEqual(t, cursors.saves, tc.saves[0])
			require.LessOrEqual(t, cursors.saves, tc.saves[1])
			pos, ok, err := cursors.Load(context.Background(), "okta/t/mover")
			require.NoError(t, err)
			require.Equal(t, cursors.saves > 0, ok)
			var saved, at int
			fmt.Sscan(pos, &saved)
			fmt.Sscan(r.Status()[0].Cursor, &at)
			require.LessOrEqual(t, saved, at, "the saved cursor never runs ahead")
			if tc.move {
				require.GreaterOrEqual(t, saved, at-31, "an idle cursor lags at most IdleSave")
			} else if tc.published > 0 {
				require.Equal(t, at, saved, "a cursor moved by records is saved by the next poll after SaveInterval")
			}
		})
	}
}

// ticker is a Stream that caught up on every read and brings one new
// record each time, noting when it was read.
type ticker struct {
	clock clockwork.Clock
	mu    sync.Mutex
	at    []time.Time
}

func (k *ticker) Name() string { return "ticker" }

func (k *ticker) Next(_ context.Context, cursor string) (collect.Page, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.at = append(k.at, k.clock.Now())
	var i int
	fmt.Sscan(cursor, &i)
	recs := []bus.Record{{Source: model.SourceOkta, Instance: "t", Raw: fmt.Appendf(nil, `{"n":%d}`, i)}}
	return collect.Page{Records: recs, Cursor: fmt.Sprint(i + 1)}, nil
}

// slowStore is a Publisher whose records take store on the clock to be
// stored.
type slowStore struct {
	collecttest.Recorder
	clock clockwork.Clock
	store time.Duration
}

func (s *slowStore) Publish(ctx context.Context, recs ...bus.Record) error {
	if s.store > 0 {
		t := s.clock.NewTimer(s.store)
		defer t.Stop()
		select {
		case <-t.Chan():
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return s.Recorder.Publish(ctx, recs...)
}

// TestRunnerIntervalFromRead: a stream that caught up reads again
// PollConfig.Interval after that read returned — the time its page took
// to be stored is inside the interval, not added to it — and at once when
// the store took longer than the interval.
func TestRunnerIntervalFromRead(t *testing.T) {
	for _, tc := range []struct {
		name  string
		store time.Duration
		gap   time.Duration
	}{
		{name: "instant store", store: 0, gap: 10 * time.Second},
		{name: "store inside the interval", store: 3 * time.Second, gap: 10 * time.Second},
		{name: "store longer than the interval", store: 15 * time.Second, gap: 15 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clock := clockwork.NewFakeClockAt(time.Date(2025, 3, 3, 0, 0, 0, 0, time.UTC))
			k := &ticker{clock: clock}
			pub := &slowStore{clock: clock, store: tc.store}
			col := &collect.Collector{Source: model.SourceOkta, Instance: "t", Streams: []collect.Stream{k},
				Poll: collect.PollConfig{Interval: 10 * time.Second}}
			r := collect.NewRunner(col, pub, &collect.MemCursors{}, collect.Options{Clock: clock, Logger: collecttest.Quiet()})
			collecttest.Drive(t, clock, 1, time.Second, clock.Now().Add(3*time.Minute), r)
			k.mu.Lock()
			defer k.mu.Unlock()
			require.Greater(t, len(k.at), 5)
			// Every gap is at least the interval (or the store), and most
			// are exactly it. Not every one: Drive moves the clock whenever
			// a timer waits, and the interval's timer waits from the read
			// on, so a store that starts late on a busy machine ends late
			// (the gap is then longer; the old loop's was interval + store
			// every time).
			gaps := make([]time.Duration, 0, len(k.at)-1)
			for i := 1; i < len(k.at); i++ {
				gap := k.at[i].Sub(k.at[i-1])
				require.GreaterOrEqual(t, gap, tc.gap, "read %d", i)
				gaps = append(gaps, gap)
			}
			slices.Sort(gaps)
			require.Equal(t, tc.gap, gaps[len(gaps)/2], "the median gap, of %v", gaps)
			require.GreaterOrEqual(t, len(pub.Records()), len(k.at)-1, "every page read is stored (the last maybe cut by the stop)")
		})
	}
}

// endless is a Stream of pages without end, one record each, noting how
// many it served.
type endless struct {
	mu    sync.Mutex
	reads int
}

func (e *endless) Name() string { return "endless" }

func (e *endless) Next(_ context.Context, cursor string) (collect.Page, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.reads++
	var i int
	fmt.Sscan(cursor, &i)
	recs := []bus.Record{{Source: model.SourceOkta, Instance: "t", Raw: fmt.Appendf(nil, `{"n":%d}`, i)}}
	return collect.Page{Records: recs, Cursor: fmt.Sprint(i + 1), More: true}, nil
}

func (e *endless) served() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.reads
}

// TestRunnerCatchUpSaves: a stream catching up saves its cursor once it is
// PollConfig.CatchUpSavePages pages past the saved one — half its
// in_flight, at least every page — not with every page taken.
func TestRunnerCatchUpSaves(t *testing.T) {
	for _, inFlight := range []int{1, 8, 32} {
		t.Run(fmt.Sprintf("in_flight %d", inFlight), func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			s := &endless{}
			cursors := &listedCursors{}
			// Saves by time are out of reach: only catching up saves.
			poll := collect.PollConfig{InFlight: inFlight, SaveInterval: time.Hour, IdleSave: time.Hour}
			every := poll.CatchUpSavePages()
			require.Equal(t, max(inFlight/2, 1), every)
			col := &collect.Collector{Source: model.SourceOkta, Instance: "t", Streams: []collect.Stream{s}, Poll: poll}
			r := collect.NewRunner(col, &collecttest.Recorder{}, cursors, collect.Options{Logger: collecttest.Quiet()})
			done := make(chan error, 1)
			go func() { done <- r.Run(ctx) }()
			require.Eventually(t, func() bool { return s.served() > 400 }, 10*time.Second, time.Millisecond)
			cancel()
			require.NoError(t, <-done)
			saved := cursors.list()
			require.Greater(t, len(saved), 2)
			// The last save is the stopping stream's, of the page it left.
			for i := 1; i < len(saved)-1; i++ {
				require.GreaterOrEqual(t, saved[i]-saved[i-1], every, "save %d: pages between saves while catching up", i)
			}
			require.LessOrEqual(t, len(saved), s.served()/every+2)
		})
	}
}

// listedCursors is a CursorStore that lists the page numbers it saved.
type listedCursors struct {
	collect.MemCursors
	mu    sync.Mutex
	saved []int
}

func (l *listedCursors) Save(ctx context.Context, c model.Cursor) error {
	var n int
	fmt.Sscan(c.Position, &n)
	l.mu.Lock()
	l.saved = append(l.saved, n)
	l.mu.Unlock()
	return l.MemCursors.Save(ctx, c)
}

func (l *listedCursors) list() []int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.saved)
}

// gatedCursors is a CursorStore whose saves wait until the gate opens.
type gatedCursors struct {
	collect.MemCursors
	gate chan struct{}
}

func (g *gatedCursors) Save(ctx context.Context, c model.Cursor) error {
	select {
	case <-g.gate:
	case <-ctx.Done():
		return ctx.Err()
	}
	return g.MemCursors.Save(ctx, c)
}

// TestRunnerCrashReread: while a cursor save hangs, a stream catching up
// takes at most InFlight pages past its saved cursor, so that it has read
// at most PollConfig.CrashRereadPages pages past it — what a crash then
// reads again — whether it publishes page by page or sends InFlight pages
// ahead on a bus.Sender (the in-process bus, its sink storing at once).
func TestRunnerCrashReread(t *testing.T) {
	for _, tc := range []struct {
		name     string
		inFlight int
		sender   bool
		reads    [2]int // least and most pages read before the stream waits
	}{
		{name: "publish, in_flight 1", inFlight: 1, reads: [2]int{2, 2}},
		{name: "publish, in_flight 4", inFlight: 4, reads: [2]int{5, 5}},
		{name: "send ahead, in_flight 1", inFlight: 1, sender: true, reads: [2]int{2, 3}},
		{name: "send ahead, in_flight 8", inFlight: 8, sender: true, reads: [2]int{9, 17}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var pub bus.Publisher = &collecttest.Recorder{}
			if tc.sender {
				b := memory.New(0)
				sub := b.Subscribe()
				go func() {
					for {
						batch, err := sub.Fetch(ctx, 1000)
						if err != nil {
							return
						}
						_ = batch.Commit(ctx)
					}
				}()
				pub = b
			}
			s := &endless{}
			cursors := &gatedCursors{gate: make(chan struct{})}
			poll := collect.PollConfig{InFlight: tc.inFlight}
			require.Equal(t, 2*tc.inFlight+1, poll.CrashRereadPages())
			col := &collect.Collector{Source: model.SourceOkta, Instance: "t", Streams: []collect.Stream{s}, Poll: poll}
			r := collect.NewRunner(col, pub, cursors, collect.Options{Logger: collecttest.Quiet()})
			done := make(chan error, 1)
			go func() { done <- r.Run(ctx) }()

			// The first page's cursor save hangs: the stream stops once it
			// took InFlight pages past the saved (loaded) cursor.
			require.Eventually(t, func() bool {
				n := s.served()
				time.Sleep(50 * time.Millisecond)
				return n >= tc.reads[0] && s.served() == n
			}, 10*time.Second, 10*time.Millisecond)
			time.Sleep(200 * time.Millisecond)
			n := s.served()
			require.GreaterOrEqual(t, n, tc.reads[0])
			require.LessOrEqual(t, n, tc.reads[1])
			require.LessOrEqual(t, n, poll.CrashRereadPages(), "pages read past the saved cursor")

			// The store answers: the stream reads on, its cursor saved.
			close(cursors.gate)
			require.Eventually(t, func() bool { return s.served() > n+50 }, 10*time.Second, 10*time.Millisecond)
			cancel()
			require.NoError(t, <-done)
			require.Greater(t, savedPage(t, cursors, "okta/t/endless"), n)
		})
	}
}

// TestRunnerCaughtUpReadsAhead: a stream that caught up, sending on a
// bus.Sender (the in-process bus), reads again at its interval while its
// pages are still being stored or its cursor is still being saved — up to
// InFlight pages past the saved cursor, then it waits — and every page's
// records are stored and its cursor saved in the end.
func TestRunnerCaughtUpReadsAhead(t *testing.T) {
	const interval = 50 * time.Millisecond
	for _, tc := range []struct {
		name     string
		store    time.Duration // each batch's store write
		hangSave bool          // the first cursor save hangs until the end
	}{
		{name: "store longer than the interval", store: 10 * interval},
		{name: "cursor save hangs", hangSave: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			b := memory.New(0)
			sub := b.Subscribe()
			var stored sync.Map
			go func() {
				for {
					batch, err := sub.Fetch(ctx, 1000)
					if err != nil {
						return
					}
					time.Sleep(tc.store)
					for _, r := range batch.Records {
						stored.Store(string(r.Raw), true)
					}
					_ = batch.Commit(ctx)
				}
			}()
			clock := clockwork.NewRealClock()
			k := &ticker{clock: clock}
			var cursors collect.CursorStore = &collect.MemCursors{}
			gate := make(chan struct{})
			if tc.hangSave {
				cursors = &gatedCursors{gate: gate}
			}
			poll := collect.PollConfig{Interval: interval, SaveInterval: interval, InFlight: 4}
			col := &collect.Collector{Source: model.SourceOkta, Instance: "t", Streams: []collect.Stream{k}, Poll: poll}
			r := collect.NewRunner(col, b, cursors, collect.Options{Logger: collecttest.Quiet()})
			done := make(chan error, 1)
			go func() { done <- r.Run(ctx) }()

			reads := func() []time.Time {
				k.mu.Lock()
				defer k.mu.Unlock()
				return slices.Clone(k.at)
			}
			if tc.hangSave {
				// Reads go on past the hanging save, InFlight pages past
				// the saved (loaded) cursor at most, then wait.
				require.Eventually(t, func() bool {
					n := len(reads())
					time.Sleep(5 * interval)
					return n >= 2 && len(reads()) == n
				}, 10*time.Second, 10*time.Millisecond)
				require.LessOrEqual(t, len(reads()), poll.CrashRereadPages())
				close(gate)
			}
			require.Eventually(t, func() bool { return len(reads()) >= 20 }, 20*time.Second, 10*time.Millisecond)
			at := reads()
			gaps := make([]time.Duration, 0, len(at)-1)
			for i := 1; i < len(at); i++ {
				gaps = append(gaps, at[i].Sub(at[i-1]))
			}
			slices.Sort(gaps)
			// Waiting for each page to be stored before the next read
			// would make the gaps tc.store (500 ms) at least.
			require.Less(t, gaps[len(gaps)/2], 5*interval, "the median gap, of %v", gaps)
			cancel()
			require.NoError(t, <-done)
			saved := savedPage(t, cursors, "okta/t/ticker")
			require.Greater(t, saved, 0)
			for i := range saved {
				_, ok := stored.Load(fmt.Sprintf(`{"n":%d}`, i))
				require.True(t, ok, "record %d behind the saved cursor %d is stored", i, saved)
			}
		})
	}
}

// savedPage is the page number a stream of numbered pages (endless,
// ticker) saved as its cursor under name.
func savedPage(t *testing.T, cursors collect.CursorStore, name string) int {
	t.Helper()
	pos, ok, err := cursors.Load(context.Background(), name)
	require.NoError(t, err)
	require.True(t, ok)
	var saved int
	fmt.Sscan(pos, &saved)
	return saved
}
