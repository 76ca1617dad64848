package emulator

import (
	"time"

	"github.com/jonboulle/clockwork"
)

// Accelerated is a clock that plays time Speed times faster than the real
// clock, from Start at the moment it was created: its Now is Start +
// Speed × (real time elapsed). Its timers and tickers fire after their
// duration divided by Speed in real time, so a component waiting 30
// minutes of demo time on it waits 30 min / Speed. It paces the emulators
// (a record is listed once demo time passes its Visible time) and the
// collectors polling them in `keytrail demo --live`.
type Accelerated struct {
	start time.Time
	began time.Time
	speed float64
}

// NewAccelerated returns a clock at start now, running speed (> 0) times
// faster than real time.
func NewAccelerated(start time.Time, speed float64) *Accelerated {
	if speed <= 0 {
		speed = 1
	}
	return &Accelerated{start: start, began: time.Now(), speed: speed}
}

var _ clockwork.Clock = (*Accelerated)(nil)

// Speed is how many seconds of demo time pass per real second.
func (a *Accelerated) Speed() float64 { return a.speed }

// Real returns how long d of demo time lasts in real time.
func (a *Accelerated) Real(d time.Duration) time.Duration {
	return time.Duration(float64(d) / a.speed)
}

// Now returns the demo time.
func (a *Accelerated) Now() time.Time {
	return a.start.Add(time.Duration(float64(time.Since(a.began)) * a.speed))
}

// Since returns the demo time elapsed since t.
func (a *Accelerated) Since(t time.Time) time.Duration { return a.Now().Sub(t) }

// Until returns the demo time until t.
func (a *Accelerated) Until(t time.Time) time.Duration { return t.Sub(a.Now()) }

// After sends the demo time once d of demo time has passed.
func (a *Accelerated) After(d time.Duration) <-chan time.Time { return a.NewTimer(d).Chan() }

// Sleep sleeps d of demo time.
func (a *Accelerated) Sleep(d time.Duration) { time.Sleep(a.Real(d)) }

// NewTimer returns a timer that fires after d of demo time.
func (a *Accelerated) NewTimer(d time.Duration) clockwork.Timer {
	t := &accelTimer{a: a, c: make(chan time.Time, 1)}
	t.t = time.AfterFunc(a.Real(d), t.fire)
	return t
}

// AfterFunc calls f in its own goroutine after d of demo time.
func (a *Accelerated) AfterFunc(d time.Duration, f func()) clockwork.Timer {
	return &accelTimer{a: a, t: time.AfterFunc(a.Real(d), f)}
}

// NewTicker returns a ticker that ticks every d of demo time.
func (a *Accelerated) NewTicker(d time.Duration) clockwork.Ticker {
	t := &accelTicker{a: a, c: make(chan time.Time, 1), stop: make(chan struct{})}
	t.t = time.NewTicker(max(a.Real(d), time.Millisecond))
	go t.run()
	return t
}

// accelTimer is a real timer with scaled durations that sends demo times.
type accelTimer struct {
	a *Accelerated
	t *time.Timer
	c chan time.Time // nil for AfterFunc
}

func (t *accelTimer) fire() {
	select {
	case t.c <- t.a.Now():
	default:
	}
}

func (t *accelTimer) Chan() <-chan time.Time { return t.c }

func (t *accelTimer) Reset(d time.Duration) bool { return t.t.Reset(t.a.Real(d)) }

func (t *accelTimer) Stop() bool { return t.t.Stop() }

// accelTicker is a real ticker with a scaled period that sends demo times.
type accelTicker struct {
	a    *Accelerated
	t    *time.Ticker
	c    chan time.Time
	stop chan struct{}
}

func (t *accelTicker) run() {
	for {
		select {
		case <-t.t.C:
			select {
			case t.c <- t.a.Now():
			default:
			}
		case <-t.stop:
			return
		}
	}
}

func (t *accelTicker) Chan() <-chan time.Time { return t.c }

func (t *accelTicker) Reset(d time.Duration) { t.t.Reset(max(t.a.Real(d), time.Millisecond)) }

func (t *accelTicker) Stop() {
	t.t.Stop()
	select {
	case <-t.stop:
	default:
		close(t.stop)
	}
}
