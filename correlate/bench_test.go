package correlate

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/keytrail/keytrail/model"
)

// benchEvents is the size of the generated benchmark history.
const benchEvents = 1_000_000

var benchData = sync.OnceValues(func() (*history, []any) {
	// 2000 people over a week: about 500 events per person.
	h := generate(rngFor(2024), genConfig{people: 2000, events: benchEvents, span: 7 * 24 * time.Hour})
	return h, arrival(h.all(), rngFor(2025), DefaultPolicy().Grace, 1)
})

func actions(h *history) int {
	n := len(h.runs)
	for i := range h.airflow {
		if isAction(&h.airflow[i]) {
			n++
		}
	}
	return n
}

// BenchmarkBatch reports batch correlation throughput over 1M generated
// events (actions/s).
func BenchmarkBatch(b *testing.B) {
	h, _ := benchData()
	in := h.input()
	p := DefaultPolicy()
	n := actions(h)
	b.ResetTimer()
	start := time.Now()
	for b.Loop() {
		if _, err := Batch(context.Background(), p, in); err != nil {
			b.Fatal(err)
		}
	}
	el := time.Since(start)
	b.ReportMetric(float64(n)*float64(b.N)/el.Seconds(), "actions/s")
	b.ReportMetric(float64(len(h.auth)+len(h.authn)+len(h.airflow)+len(h.runs))*float64(b.N)/el.Seconds(), "events/s")
}

// BenchmarkSweep reports one-pass correlation throughput over the same 1M
// generated events as BenchmarkBatch, each stream in time order
// (actions/s), on 1 worker (Sweep) and on 2 (SweepParallel), with the
// process's CPU time per pass (cpu_s, user and system: what the split
// costs beside what it saves in wall time) and the most events one worker
// held at once.
func BenchmarkSweep(b *testing.B) {
	h, _ := benchData()
	o := ordered(h, rngFor(2026))
	in := o.input()
	p := DefaultPolicy()
	n := actions(h)
	for _, workers := range []int{1, 2} {
		b.Run(fmt.Sprintf("workers=%d", workers), func(b *testing.B) {
			held, stop := trackHeld()
			defer stop()
			cpu0 := cpuTime(b)
			start := time.Now()
			for b.Loop() {
				if err := SweepParallel(context.Background(), p, in, workers, func(model.Correlation) error { return nil }); err != nil {
					b.Fatal(err)
				}
			}
			el := time.Since(start)
			b.ReportMetric(float64(n)*float64(b.N)/el.Seconds(), "actions/s")
			b.ReportMetric(float64(len(h.auth)+len(h.authn)+len(h.airflow)+len(h.runs))*float64(b.N)/el.Seconds(), "events/s")
			b.ReportMetric((cpuTime(b)-cpu0).Seconds()/float64(b.N), "cpu_s")
			b.ReportMetric(float64(held()), "held")
		})
	}
}

// cpuTime is the user and system CPU time the process has used.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkEngine reports streaming throughput over 1M generated events in
// an arrival order with delays up to grace (events/s), and the heap the
// engine's state takes per tracked person.
func BenchmarkEngine(b *testing.B) {
	_, evs := benchData()
	p := DefaultPolicy()
	ctx := context.Background()
	var perPerson float64
	var persons int
	for b.Loop() {
		b.StopTimer()
		runtime.GC()
		var before runtime.MemStats
		runtime.ReadMemStats(&before)
		e, err := NewEngine(p, SinkFunc(func(Update) {}))
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		for _, ev := range evs {
			if err := e.Add(ctx, ev); err != nil {
				b.Fatal(err)
			}
		}
		b.StopTimer()
		runtime.GC()
		var after runtime.MemStats
		runtime.ReadMemStats(&after)
		st := e.Stats()
		persons = st.TrackedPersons
		perPerson = float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / float64(max(1, persons))
		e.Flush()
		runtime.KeepAlive(e)
		b.StartTimer()
	}
	b.ReportMetric(float64(len(evs))*float64(b.N)/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(perPerson, "bytes/person")
	b.ReportMetric(float64(persons), "persons")
}

// BenchmarkEngineAdd reports the per-event cost in steady state, with a
// short lookback so that expiry runs.
func BenchmarkEngineAdd(b *testing.B) {
	_, evs := benchData()
	p := DefaultPolicy()
	p.Lookback = 24 * time.Hour
	e, err := NewEngine(p, SinkFunc(func(Update) {}))
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	var shift time.Duration
	b.ResetTimer()
	i := 0
	for b.Loop() {
		if i == len(evs) { // replay, a week later
			i, shift = 0, shift+8*24*time.Hour
		}
		ev := evs[i]
		i++
		if shift != 0 {
			ev = shifted(ev, shift)
		}
		if err := e.Add(ctx, ev); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(e.Stats().EventsHeld), "held")
}

func shifted(ev any, d time.Duration) any {
	switch v := ev.(type) {
	case *model.AuthEvent:
		c := *v
		c.TS = c.TS.Add(d)
		return c
	case *model.Authenticator:
		c := *v
		c.TS = c.TS.Add(d)
		return c
	case *model.AirflowEvent:
		c := *v
		c.TS = c.TS.Add(d)
		c.EventLogID += int64(d)
		return c
	case *model.DagRun:
		c := *v
		c.TS = c.TS.Add(d)
		c.RunID += d.String()
		return c
	}
	return ev
}
