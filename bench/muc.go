package bench

import "time"

// mucJoins is what the join phase of --scenario muc measured.
type mucJoins struct {
	joined        int64
	took          time.Duration
	before, after ProcSample // the server's, around the joins (zero without --server-pid)
	settled       ProcSample // the server's once its RSS stopped falling after the joins
	steady        bool       // settled within settleMax (else: still moving then)
}

// The settled sample: after the join wave, with no load, the server's RSS is
// read every settleEvery until the readings of the last settleSpan are all
// within settleTol of each other, or settleMax has passed. The same for
// every server, so what a runtime gives back within seconds (queues written,
// garbage collected, pages returned) counts, and what it keeps shows. The
// span is 2 s, not one interval: runtimes free in steps (a GC cycle, Ignis's
// release a second after the last join, mod/muc/release.go).
const (
	settleEvery = 500 * time.Millisecond
	settleSpan  = 2 * time.Second
	settleMax   = 10 * time.Second
	settleTol   = 0.01
)

// settle samples pid until its RSS is steady, settleMax has passed or done
// is closed; it returns the last sample and whether the RSS was steady.
func settle(pid int, done <-chan struct{}) (ProcSample, bool) {
	first, err := ReadProc(pid)
	if err != nil {
		return ProcSample{}, false
	}
	span := int(settleSpan / settleEvery) // intervals in a span
	win := []ProcSample{first}
	for {
		select {
		case <-done:
			return win[len(win)-1], false
		case <-time.After(settleEvery):
		}
		cur, err := ReadProc(pid)
		if err != nil {
			return win[len(win)-1], false
		}
		if win = append(win, cur); len(win) > span+1 {
			win = win[1:]
		}
		if len(win) == span+1 && steady(win) {
			return cur, true
		}
		if cur.At.Sub(first.At) >= settleMax {
			return cur, false
		}
	}
}

// steady: the samples' RSS spread is within settleTol of their largest.
func steady(win []ProcSample) bool {
	lo, hi := win[0].RSS, win[0].RSS
	for _, s := range win[1:] {
		lo, hi = min(lo, s.RSS), max(hi, s.RSS)
	}
	return float64(hi-lo) <= settleTol*float64(hi)
}

// joinPhase runs once every first login has ended: it samples the server,
// sends every online chat session's join, waits (bounded by --timeout) for
// all of them to be in their rooms, and samples the server again, at the
// end of the joins and once more when its RSS has settled. The
// senders start after it, so no message goes to a room still filling up.
func (r *run) joinPhase(done <-chan struct{}) mucJoins {
	var j mucJoins
	if r.cfg.ServerPID > 0 {
		j.before, _ = ReadProc(r.cfg.ServerPID)
	}
	start := time.Now()
	r.joinsOpen.Store(true)
	for k, i := range r.chat {
		if rate := r.cfg.JoinRate; rate > 0 {
			// paced: the k-th join goes k/rate seconds after the first
			if d := time.Until(start.Add(time.Duration(float64(k) / rate * float64(time.Second)))); d > 0 {
				select {
				case <-done:
					j.took = time.Since(start)
					return j
				case <-time.After(d):
				}
			}
		}
		s := &r.sessions[i]
		if s.online.Load() {
			_ = s.joinRoom() // a failed write shows as a dropped session
		}
	}
	deadline := start.Add(r.cfg.Timeout)
	if r.cfg.JoinRate > 0 {
		deadline = deadline.Add(time.Duration(float64(len(r.chat)) / r.cfg.JoinRate * float64(time.Second)))
	}
	for {
		j.joined = r.countJoined()
		if j.joined >= int64(len(r.chat)) || time.Now().After(deadline) {
			break
		}
		select {
		case <-done:
			j.took = time.Since(start)
			return j
		case <-time.After(5 * time.Millisecond):
		}
	}
	j.took = time.Since(start)
	if r.cfg.ServerPID > 0 {
		j.after, _ = ReadProc(r.cfg.ServerPID)
		if j.joined > 0 {
			j.settled, j.steady = settle(r.cfg.ServerPID, done)
		}
	}
	return j
}

func (r *run) countJoined() int64 {
	var n int64
	for _, i := range r.chat {
		if r.sessions[i].joined.Load() {
			n++
		}
	}
	return n
}
