package store

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
)

func offlineMsg(user string, n int) []byte {
	return fmt.Appendf(nil, "<message to='%s@localhost' id='m%d'><body>%d</body></message>", user, n, n)
}

// listAll returns user's stored messages as seq → raw, and the seqs in order.
func listAll(t *testing.T, o *Offline, user string) (map[uint64]string, []uint64) {
	t.Helper()
	got := map[uint64]string{}
	var order []uint64
	if err := o.List(user, func(seq uint64, raw []byte) bool {
		got[seq] = string(raw)
		order = append(order, seq)
		return true
	}); err != nil {
		t.Fatalf("List(%s): %v", user, err)
	}
	return got, order
}

func wantCount(t *testing.T, o *Offline, user string, want int) {
	t.Helper()
	if n, err := o.Count(user); err != nil || n != want {
		t.Fatalf("Count(%s) = %d, %v; want %d", user, n, err, want)
	}
}

func TestOfflineStoreListDelete(t *testing.T) {
	o := openTest(t, nil).Offline()
	for i := 1; i <= 6; i++ {
		seq, err := o.Store("alice", offlineMsg("alice", i))
		if err != nil || seq != uint64(i) {
			t.Fatalf("Store #%d = %d, %v; want seq %d", i, seq, err, i)
		}
	}
	// another user whose name is a prefix of the first stays apart
	if _, err := o.Store("al", offlineMsg("al", 1)); err != nil {
		t.Fatal(err)
	}
	got, order := listAll(t, o, "alice")
	if !slices.Equal(order, []uint64{1, 2, 3, 4, 5, 6}) {
		t.Fatalf("order %v", order)
	}
	for i := 1; i <= 6; i++ {
		if got[uint64(i)] != string(offlineMsg("alice", i)) {
			t.Fatalf("message %d is %q", i, got[uint64(i)])
		}
	}
	if raw, err := o.Get("alice", 4); err != nil || string(raw) != string(offlineMsg("alice", 4)) {
		t.Fatalf("Get 4 = %q, %v", raw, err)
	}
	if _, err := o.Get("alice", 99); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get 99: %v, want ErrNotFound", err)
	}
	wantCount(t, o, "alice", 6)

	// a run (2,3,4) becomes a range delete, 6 a point delete; 9 is absent
	n, err := o.Delete("alice", 6, 3, 2, 4, 9, 3)
	if err != nil || n != 4 {
		t.Fatalf("Delete = %d, %v; want 4", n, err)
	}
	if _, order = listAll(t, o, "alice"); !slices.Equal(order, []uint64{1, 5}) {
		t.Fatalf("after Delete: %v, want [1 5]", order)
	}
	wantCount(t, o, "alice", 2)
	if n, err := o.Delete("alice", 2, 3); err != nil || n != 0 {
		t.Fatalf("deleting again = %d, %v; want 0", n, err)
	}
	wantCount(t, o, "alice", 2)

	// numbers keep growing after deletes
	if seq, err := o.Store("alice", offlineMsg("alice", 7)); err != nil || seq != 7 {
		t.Fatalf("Store after Delete = %d, %v; want 7", seq, err)
	}
	if err := o.DeleteAll("alice"); err != nil {
		t.Fatal(err)
	}
	if got, _ := listAll(t, o, "alice"); len(got) != 0 {
		t.Fatalf("after DeleteAll: %v", got)
	}
	wantCount(t, o, "alice", 0)
	if _, order := listAll(t, o, "al"); !slices.Equal(order, []uint64{1}) {
		t.Fatalf("al's queue after alice's DeleteAll: %v", order)
	}
	if _, err := o.Store("", []byte("<message/>")); !errors.Is(err, ErrInvalidUser) {
		t.Fatalf("Store for an empty user: %v", err)
	}
}

func TestOfflineQuota(t *testing.T) {
	o := openTest(t, nil).Offline()
	var wg sync.WaitGroup
	store := func(i int) error {
		wg.Add(1)
		err := o.TryStoreAsync("bob", offlineMsg("bob", i), Quota{Messages: 3}, func(_ uint64, err error) {
			if err != nil {
				t.Errorf("store %d: %v", i, err)
			}
			wg.Done()
		})
		if err != nil {
			wg.Done()
		}
		return err
	}
	for i := 1; i <= 3; i++ {
		if err := store(i); err != nil {
			t.Fatalf("store %d: %v", i, err)
		}
	}
	// counted at submission: the fourth is refused before the three commit
	if err := store(4); !errors.Is(err, ErrQueueFull) {
		t.Fatalf("store past the quota: %v, want ErrQueueFull", err)
	}
	wg.Wait()
	if n, err := o.Delete("bob", 1); err != nil || n != 1 {
		t.Fatalf("Delete = %d, %v", n, err)
	}
	if err := store(5); err != nil {
		t.Fatalf("store after a delete: %v", err)
	}
	wg.Wait()
	wantCount(t, o, "bob", 3)
}

// TestOfflineRecovery: the counters come back from disk after a restart.
func TestOfflineRecovery(t *testing.T) {
	mem := vfs.NewMem()
	db := openTest(t, mem)
	o := db.Offline()
	for i := 1; i <= 5; i++ {
		if _, err := o.Store("carol", offlineMsg("carol", i)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := o.Delete("carol", 1, 2); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if err := o.List("carol", func(uint64, []byte) bool { return true }); !errors.Is(err, ErrClosed) {
		t.Fatalf("List after Close: %v, want ErrClosed", err)
	}
	if _, err := o.Store("carol", nil); !errors.Is(err, ErrClosed) {
		t.Fatalf("Store after Close: %v, want ErrClosed", err)
	}

	o = openTest(t, mem).Offline()
	wantCount(t, o, "carol", 3)
	if seq, err := o.Store("carol", offlineMsg("carol", 6)); err != nil || seq != 6 {
		t.Fatalf("Store after reopening = %d, %v; want 6", seq, err)
	}
	if _, order := listAll(t, o, "carol"); !slices.Equal(order, []uint64{3, 4, 5, 6}) {
		t.Fatalf("after reopening: %v", order)
	}
}

// TestOfflineStoreAsyncDurable: concurrent StoreAsync for a few users from
// many goroutines (event loops), a crash once every callback has reported
// success, and every acknowledged message is in the crashed copy, under the
// number it was acknowledged with; numbers are unique per user and follow
// each submitter's order.
func TestOfflineStoreAsyncDurable(t *testing.T) {
	mem := vfs.NewCrashableMem()
	db := openTest(t, mem)
	o := db.Offline()
	const submitters, each = 16, 60
	users := []string{"u1", "u2", "u3"}
	type ack struct {
		user string
		seq  uint64
		raw  string
	}
	var (
		mu   sync.Mutex
		acks []ack
		wg   sync.WaitGroup
	)
	wg.Add(submitters * each)
	for s := range submitters {
		go func() {
			last := map[string]uint64{}
			var lmu sync.Mutex
			for i := range each {
				user := users[(s+i)%len(users)]
				raw := fmt.Sprintf("<message id='%d-%d'/>", s, i)
				o.StoreAsync(user, []byte(raw), func(seq uint64, err error) {
					defer wg.Done()
					if err != nil {
						t.Errorf("store %s: %v", raw, err)
						return
					}
					lmu.Lock()
					if seq <= last[user] {
						t.Errorf("%s got seq %d after %d from the same submitter", user, seq, last[user])
					}
					last[user] = seq
					lmu.Unlock()
					mu.Lock()
					acks = append(acks, ack{user, seq, raw})
					mu.Unlock()
				})
			}
		}()
	}
	wg.Wait()

	crashed := openTest(t, mem.CrashClone(vfs.CrashCloneCfg{})).Offline()
	stored := map[string]map[uint64]string{}
	for _, u := range users {
		stored[u], _ = listAll(t, crashed, u)
	}
	for _, a := range acks {
		if got := stored[a.user][a.seq]; got != a.raw {
			t.Fatalf("%s #%d: acknowledged %q, after the crash %q", a.user, a.seq, a.raw, got)
		}
	}
	total := 0
	for _, u := range users {
		total += len(stored[u])
		n, _ := crashed.Count(u)
		if n != len(stored[u]) {
			t.Fatalf("%s: recovered count %d, %d stored", u, n, len(stored[u]))
		}
	}
	if total != submitters*each {
		t.Fatalf("%d messages after the crash, want %d (numbers reused?)", total, submitters*each)
	}
}

// TestOfflineDeleteAllOrder: DeleteAllAsync removes the stores submitted
// before it and keeps those after, and its callback means everything
// submitted before it is durable.
func TestOfflineDeleteAllOrder(t *testing.T) {
	mem := vfs.NewCrashableMem()
	o := openTest(t, mem).Offline()
	var before sync.WaitGroup
	for i := range 50 {
		before.Add(1)
		o.StoreAsync("dave", offlineMsg("dave", i), func(_ uint64, err error) {
			if err != nil {
				t.Error(err)
			}
			before.Done()
		})
	}
	// another user's store, submitted before the barrier, not waited for
	o.StoreAsync("erin", offlineMsg("erin", 1), func(uint64, error) {})
	barrier := make(chan error, 1)
	if err := o.DeleteAllAsync("dave", func(err error) { barrier <- err }); err != nil {
		t.Fatal(err)
	}
	if seq, err := o.Store("dave", offlineMsg("dave", 99)); err != nil || seq != 51 {
		t.Fatalf("store after DeleteAll = %d, %v; want 51", seq, err)
	}
	select {
	case err := <-barrier:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("DeleteAllAsync never reported")
	}
	before.Wait()
	crashed := openTest(t, mem.CrashClone(vfs.CrashCloneCfg{})).Offline()
	if _, order := listAll(t, crashed, "dave"); !slices.Equal(order, []uint64{51}) {
		t.Fatalf("dave after the crash: %v, want [51]", order)
	}
	if _, order := listAll(t, crashed, "erin"); !slices.Equal(order, []uint64{1}) {
		t.Fatalf("erin after the crash: %v, want [1] (submitted before the barrier)", order)
	}
	wantCount(t, o, "dave", 1)
}

// BenchmarkOfflineStore measures acknowledged offline stores (a ~300-byte
// message each) on the real file system: StoreAsync from 2 or 8 submitters
// (event loops), each keeping up to 128 stores in flight, spread over 1000
// users, through the group-commit writer.
//
//	go test -run '^$' -bench OfflineStore -benchtime 3s ./store/
func BenchmarkOfflineStore(b *testing.B) {
	body := make([]byte, 240)
	for i := range body {
		body[i] = 'a' + byte(i%26)
	}
	raw := fmt.Appendf(nil, "<message to='u@localhost' from='v@localhost/r' type='chat' id='x'><body>%s</body></message>", body)
	const users = 1000
	names := make([]string, users)
	for i := range names {
		names[i] = fmt.Sprintf("user%d", i)
	}
	for _, loops := range []int{2, 8} {
		b.Run(fmt.Sprintf("loops=%d/inflight=128", loops), func(b *testing.B) {
			db := openBench(b)
			o := db.Offline()
			for _, u := range names { // recover every user's counter first
				if _, err := o.Count(u); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportAllocs()
			b.SetBytes(int64(len(raw)))
			b.ResetTimer()
			start := time.Now()
			var wg sync.WaitGroup
			for l := range loops {
				wg.Go(func() {
					window := make(chan struct{}, 128)
					var inner sync.WaitGroup
					done := func(_ uint64, err error) {
						if err != nil {
							b.Error(err)
						}
						<-window
						inner.Done()
					}
					for i := l; i < b.N; i += loops {
						window <- struct{}{}
						inner.Add(1)
						o.StoreAsync(names[i%users], raw, done)
					}
					inner.Wait()
				})
			}
			wg.Wait()
			b.StopTimer()
			reportRate(b, db, start)
		})
	}
}

// TestOfflineQuotaExact: the message and byte quotas hold exactly under
// concurrent senders, deletes give their room back, and the usage is
// recovered from disk after a reopen.
func TestOfflineQuotaExact(t *testing.T) {
	msg := make([]byte, 1000)
	for _, tc := range []struct {
		name  string
		q     Quota
		want  int // messages that fit
		bytes int64
	}{
		{"messages", Quota{Messages: 50}, 50, 50 * 1000},
		{"bytes", Quota{Bytes: 30*1000 + 999}, 30, 30 * 1000},
		{"both", Quota{Messages: 40, Bytes: 45 * 1000}, 40, 40 * 1000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mem := vfs.NewMem()
			db := openTest(t, mem)
			o := db.Offline()
			var wg, stored sync.WaitGroup
			var mu sync.Mutex
			ok, full := 0, 0
			for range 8 {
				wg.Go(func() {
					for range 20 {
						stored.Add(1)
						err := o.TryStoreAsync("bob", msg, tc.q, func(_ uint64, err error) {
							if err != nil {
								t.Errorf("store: %v", err)
							}
							stored.Done()
						})
						mu.Lock()
						switch {
						case err == nil:
							ok++
						case errors.Is(err, ErrQueueFull):
							full++
							stored.Done()
						default:
							t.Errorf("TryStoreAsync: %v", err)
							stored.Done()
						}
						mu.Unlock()
					}
				})
			}
			wg.Wait()
			stored.Wait()
			if ok != tc.want || full != 160-tc.want {
				t.Fatalf("%d stored, %d refused; want %d stored", ok, full, tc.want)
			}
			if n, b, err := o.Usage("bob"); err != nil || n != tc.want || b != tc.bytes {
				t.Fatalf("Usage = %d, %d, %v; want %d, %d", n, b, err, tc.want, tc.bytes)
			}
			if err := o.TryStoreAsync("bob", msg, tc.q, func(uint64, error) {}); !errors.Is(err, ErrQueueFull) {
				t.Fatalf("store at the quota: %v", err)
			}
			if n, err := o.Delete("bob", 1); n != 1 || err != nil {
				t.Fatalf("Delete = %d, %v", n, err)
			}
			if _, err := o.Store("bob", msg); err != nil {
				t.Fatal(err)
			}
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
			o = openTest(t, mem).Offline()
			if n, b, err := o.Usage("bob"); err != nil || n != tc.want || b != tc.bytes {
				t.Fatalf("after a reopen: Usage = %d, %d, %v; want %d, %d", n, b, err, tc.want, tc.bytes)
			}
		})
	}
}
