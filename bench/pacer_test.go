package bench

import (
	"context"
	"testing"
	"time"
)

// fakeClock advances only when waited on: After moves time forward by d.
type fakeClock struct{ now time.Time }

func (f *fakeClock) Now() time.Time { return f.now }
func (f *fakeClock) After(d time.Duration) <-chan time.Time {
	f.now = f.now.Add(d)
	c := make(chan time.Time, 1)
	c <- f.now
	return c
}

func TestPacerSchedule(t *testing.T) {
	fc := &fakeClock{now: time.Unix(1000, 0)}
	start := fc.now
	p := NewPacer(fc, 200)
	ctx := context.Background()
	for i := range 1000 {
		due, err := p.Wait(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if want := start.Add(time.Duration(i) * 5 * time.Millisecond); !due.Equal(want) {
			t.Fatalf("event %d due %v, want %v", i, due.Sub(start), want.Sub(start))
		}
	}
	// N events at R/s take (N-1)/R: the first is at once
	if el := fc.now.Sub(start); el != 4995*time.Millisecond {
		t.Errorf("1000 events at 200/s took %v, want 4.995s", el)
	}
	if n := p.DueBy(start.Add(time.Second)); n != 201 {
		t.Errorf("DueBy(1s) = %d, want 201", n)
	}
	if n := p.DueBy(start.Add(-time.Second)); n != 0 {
		t.Errorf("DueBy(-1s) = %d, want 0", n)
	}
}

func TestPacerLateEventsCatchUp(t *testing.T) {
	fc := &fakeClock{now: time.Unix(0, 0)}
	start := fc.now
	p := NewPacer(fc, 10)
	ctx := context.Background()
	if _, err := p.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	fc.now = start.Add(time.Second) // a stall: events 1..10 are now due
	for i := 1; i <= 10; i++ {
		due, _ := p.Wait(ctx)
		if fc.now != start.Add(time.Second) {
			t.Fatalf("event %d waited although it was late", i)
		}
		if want := start.Add(time.Duration(i) * 100 * time.Millisecond); !due.Equal(want) {
			t.Fatalf("event %d due %v, want %v", i, due, want)
		}
	}
	if _, err := p.Wait(ctx); err != nil || fc.now != start.Add(1100*time.Millisecond) {
		t.Errorf("after catching up the schedule resumes: now %v", fc.now.Sub(start))
	}
}

func TestPacerUnlimitedAndCancel(t *testing.T) {
	fc := &fakeClock{now: time.Unix(0, 0)}
	p := NewPacer(fc, 0)
	for range 100 {
		if _, err := p.Wait(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if !fc.now.Equal(time.Unix(0, 0)) || p.Released() != 100 {
		t.Errorf("rate 0 waited: now %v, released %d", fc.now, p.Released())
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := NewPacer(nil, 1).Wait(ctx); err == nil {
		t.Error("Wait on a cancelled context returned no error")
	}
}

// Take releases exactly the events due by the time it is given, in order,
// and nothing early: what an event loop sends at one wakeup.
func TestPacerTake(t *testing.T) {
	fc := &fakeClock{now: time.Unix(1000, 0)}
	start := fc.now
	p := NewPacer(fc, 1000) // one per millisecond
	tests := []struct {
		at   time.Duration
		want int64 // released in total after draining at 'at'
	}{
		{0, 1},                       // event 0 is due at the start
		{500 * time.Microsecond, 1},  // event 1 not yet
		{time.Millisecond, 2},        // event 1 exactly on time
		{3500 * time.Microsecond, 4}, // a late wakeup sends 2 and 3 together
		{3600 * time.Microsecond, 4}, // nothing new
		{10 * time.Millisecond, 11},  // 4..10
	}
	for _, tc := range tests {
		now := start.Add(tc.at)
		for {
			due, ok := p.Take(now)
			if !ok {
				if due.Before(now) || due.Equal(now) {
					t.Fatalf("at %v: Take refused event due %v", tc.at, due.Sub(start))
				}
				break
			}
			if due.After(now) {
				t.Fatalf("at %v: released event due %v, early", tc.at, due.Sub(start))
			}
		}
		if got := p.Released(); got != tc.want {
			t.Errorf("at %v: released %d, want %d", tc.at, got, tc.want)
		}
	}
}
