package bench

import "time"

// mucJoins is what the join phase of --scenario muc measured.
type mucJoins struct {
	joined        int64
	took          time.Duration
	before, after ProcSample // the server's, around the joins (zero without --server-pid)
}

// joinPhase runs once every first login has ended: it samples the server,
// sends every online chat session's join, waits (bounded by --timeout) for
// all of them to be in their rooms, and samples the server again. The
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
