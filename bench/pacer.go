package bench

import (
	"context"
	"math"
	"time"
)

// Clock is the time source of a Pacer; tests inject a fake one.
type Clock interface {
	Now() time.Time
	// After returns a channel that receives once d has passed.
	After(d time.Duration) <-chan time.Time
}

type realClock struct{}

func (realClock) Now() time.Time                         { return time.Now() }
func (realClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// Pacer spaces events at a fixed rate on an absolute schedule: event i is
// due at start + i/rate. A late event is released at once (the schedule is
// open loop, so a slow server cannot lower the offered load), and the next
// one keeps its own due time, so N events take about N/rate whatever the
// delays in between. A rate of 0 or less releases every event at once.
type Pacer struct {
	clock Clock
	start time.Time
	rate  float64
	n     int64 // events released so far
}

// NewPacer starts a schedule at clock.Now().
func NewPacer(clock Clock, rate float64) *Pacer {
	if clock == nil {
		clock = realClock{}
	}
	return &Pacer{clock: clock, start: clock.Now(), rate: rate}
}

// Due returns when event i (from 0) is due.
func (p *Pacer) Due(i int64) time.Time {
	if p.rate <= 0 {
		return p.start
	}
	return p.start.Add(time.Duration(math.Round(float64(i) * float64(time.Second) / p.rate)))
}

// DueBy returns how many events are due at t (the count of i with Due(i) <= t).
func (p *Pacer) DueBy(t time.Time) int64 {
	if p.rate <= 0 {
		return math.MaxInt64
	}
	el := t.Sub(p.start)
	if el < 0 {
		return 0
	}
	return int64(math.Floor(el.Seconds()*p.rate)) + 1
}

// Take releases the next event if it is due by now, without waiting.
func (p *Pacer) Take(now time.Time) (due time.Time, ok bool) {
	due = p.Due(p.n)
	if due.After(now) {
		return due, false
	}
	p.n++
	return due, true
}

// Released counts the events Wait and Take have released.
func (p *Pacer) Released() int64 { return p.n }

// Wait blocks until the next event is due and returns its due time, or
// returns ctx's error.
func (p *Pacer) Wait(ctx context.Context) (time.Time, error) {
	due := p.Due(p.n)
	if d := due.Sub(p.clock.Now()); d > 0 {
		select {
		case <-ctx.Done():
			return due, ctx.Err()
		case <-p.clock.After(d):
		}
	} else if err := ctx.Err(); err != nil {
		return due, err
	}
	p.n++
	return due, nil
}
