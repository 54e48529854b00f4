package mod

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"ignis/jid"
)

// TestSerial: tasks under one key run one at a time in order; different
// keys run side by side; a stopped handle refuses work.
func TestSerial(t *testing.T) {
	h := NewHandle("t", nil, jid.MustParse("localhost"), nil)
	var mu sync.Mutex
	got := map[string][]int{}
	release := make(chan struct{})
	started := make(chan struct{})
	// alice's first task blocks until bob's tasks have all run: they must
	// not wait behind it
	if err := h.Serial("alice", func(context.Context) { close(started); <-release }); err != nil {
		t.Fatal(err)
	}
	<-started
	var bob sync.WaitGroup
	for i := range 50 {
		for _, k := range []string{"alice", "bob"} {
			if k == "bob" {
				bob.Add(1)
			}
			if err := h.Serial(k, func(context.Context) {
				mu.Lock()
				got[k] = append(got[k], i)
				mu.Unlock()
				if k == "bob" {
					bob.Done()
				}
			}); err != nil {
				t.Fatal(err)
			}
		}
	}
	bob.Wait()
	close(release)
	if err := h.stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"alice", "bob"} {
		if len(got[k]) != 50 || !slices.IsSorted(got[k]) {
			t.Errorf("%s ran %v, want 0…49 in order", k, got[k])
		}
	}
	if err := h.Serial("alice", func(context.Context) {}); !errors.Is(err, ErrStopped) {
		t.Errorf("Serial after stop: %v", err)
	}
	if err := h.Go(func(context.Context) {}); !errors.Is(err, ErrStopped) {
		t.Errorf("Go after stop: %v", err)
	}
}

// TestSerialLimit: a key cannot queue more than MaxSerialPending tasks.
func TestSerialLimit(t *testing.T) {
	h := NewHandle("t", nil, jid.JID{}, nil)
	block, started := make(chan struct{}), make(chan struct{})
	_ = h.Serial("k", func(context.Context) { close(started); <-block })
	<-started
	for i := range MaxSerialPending {
		if err := h.Serial("k", func(context.Context) {}); err != nil {
			t.Fatalf("task %d: %v", i, err)
		}
	}
	if err := h.Serial("k", func(context.Context) {}); err == nil {
		t.Error("no error past the limit")
	}
	if err := h.Serial("other", func(context.Context) {}); err != nil {
		t.Errorf("another key: %v", err)
	}
	close(block)
	if err := h.stop(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// TestTimers: Every runs at once and ends at stop; a cancelled After never runs.
func TestTimers(t *testing.T) {
	h := NewHandle("t", nil, jid.JID{}, nil)
	ran := make(chan struct{}, 1)
	if err := h.Every(time.Hour, func(context.Context) { ran <- struct{}{} }); err != nil {
		t.Fatal(err)
	}
	<-ran // the first run is immediate
	cancel, err := h.After(time.Hour, func(context.Context) { t.Error("cancelled timer ran") })
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	cancel() // twice is harmless
	fired := make(chan struct{})
	if _, err := h.After(time.Millisecond, func(context.Context) { close(fired) }); err != nil {
		t.Fatal(err)
	}
	<-fired
	ctx, done := context.WithTimeout(context.Background(), 5*time.Second)
	defer done()
	if err := h.stop(ctx); err != nil { // the hourly ticker must not hold it up
		t.Fatal(err)
	}
}

// lifeModule records its start and stop in a shared log.
type lifeModule struct {
	name    string
	log     *[]string
	failing bool
	h       *Handle
}

func (m *lifeModule) Name() string         { return m.name }
func (m *lifeModule) Register(r *Registry) {}
func (m *lifeModule) Start(context.Context) error {
	if m.failing {
		return errors.New("no")
	}
	*m.log = append(*m.log, "start "+m.name)
	return m.h.Go(func(ctx context.Context) { <-ctx.Done() }) // ends with the module
}
func (m *lifeModule) Stop(context.Context) error {
	*m.log = append(*m.log, "stop "+m.name)
	return nil
}

// TestRuntime: modules start in order and stop in reverse; when one fails
// to start, those already started are stopped.
func TestRuntime(t *testing.T) {
	for _, failAt := range []int{-1, 2} {
		t.Run(fmt.Sprint("fail at ", failAt), func(t *testing.T) {
			var log []string
			rt := NewRuntime(nil, jid.MustParse("localhost"), nil)
			var mods []Module
			for i, n := range []string{"a", "b", "c"} {
				mods = append(mods, &lifeModule{name: n, log: &log, failing: i == failAt, h: rt.Handle(n)})
			}
			err := rt.Start(context.Background(), nil, mods)
			want := []string{"start a", "start b", "start c"}
			if failAt >= 0 {
				if err == nil {
					t.Fatal("no error from a failing start")
				}
				want = []string{"start a", "start b", "stop b", "stop a"}
			} else {
				if err != nil {
					t.Fatal(err)
				}
				if err := rt.Stop(context.Background()); err != nil {
					t.Fatal(err)
				}
				want = append(want, "stop c", "stop b", "stop a")
			}
			if !slices.Equal(log, want) {
				t.Errorf("got %v, want %v", log, want)
			}
		})
	}
}
