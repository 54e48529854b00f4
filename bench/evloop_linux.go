package bench

import (
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// evloop is one epoll loop of the load generator. Once a plain-TCP session
// is online its socket leaves Go's poller for one of these loops, which reads
// what the server sends it and also sends the loop's share of the paced
// messages, woken by a timerfd at each due time. A message then costs its
// write and its read, and no goroutine wakeup; and the timerfd keeps sends on
// time to the microsecond, where the runtime's timers round short sleeps of
// an otherwise idle process up to a millisecond (which would be counted as
// the server's latency).
type evloop struct {
	r     *run
	id    int
	epfd  int
	epf   *os.File        // epfd in Go's poller
	eprc  syscall.RawConn // waits for epfd to have events
	tfd   int             // timerfd: the next send is due
	block bool            // wait in epoll_wait (high rates), not in Go's poller
	efd   int             // eventfd: sessions to adopt, sending to start or stop, the end
	buf   []byte
	oob   []byte // --split: the receive timestamp's control message

	mu      sync.Mutex // guards the fields below, set from other goroutines
	adopt   []*session
	sendOn  bool // sending started and not stopped
	sendOff bool // sending stopped for good
	quit    bool

	// the loop's own (chat, pres and senders are set by startSending before
	// it signals the loop under mu, and not touched by it afterwards)
	chat, pres *loopSender
	batched    []*session // sessions with paced events queued in this wakeup
	sending    bool
	senders    *sync.WaitGroup // Done when this loop stops sending
}

// loopSender is one paced stream of sends (chat or presence) of a loop.
type loopSender struct {
	kind Role
	ids  []int32
	p    *Pacer
	next int
	seq  int64
	done bool
}

// blockingRate is the offered rate (messages and presence per second, all
// loops together) from which loops wait in a blocking epoll_wait.
const blockingRate = 10000

// Epoll data: an event's Fd field holds a session's local index, or one of these.
const (
	evTimer = -1
	evWake  = -2
)

// newLoops starts n loops; nil (and the goroutine-per-session path) when
// epoll cannot be set up.
func newLoops(r *run, n int) []*evloop {
	var loops []*evloop
	for i := range n {
		l, err := newEvloop(r, i)
		if err != nil {
			for _, l := range loops {
				l.stop()
			}
			return nil
		}
		loops = append(loops, l)
		go l.run()
	}
	return loops
}

func newEvloop(r *run, id int) (*evloop, error) {
	l := &evloop{r: r, id: id, epfd: -1, tfd: -1, efd: -1, buf: make([]byte, 64<<10)}
	var err error
	if l.epfd, err = unix.EpollCreate1(unix.EPOLL_CLOEXEC); err != nil {
		return nil, err
	}
	if l.tfd, err = unix.TimerfdCreate(unix.CLOCK_MONOTONIC, unix.TFD_NONBLOCK|unix.TFD_CLOEXEC); err != nil {
		l.closeFds()
		return nil, err
	}
	if l.efd, err = unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC); err != nil {
		l.closeFds()
		return nil, err
	}
	for _, x := range []struct{ fd, tag int }{{l.tfd, evTimer}, {l.efd, evWake}} {
		ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(x.tag)}
		if err := unix.EpollCtl(l.epfd, unix.EPOLL_CTL_ADD, x.fd, &ev); err != nil {
			l.closeFds()
			return nil, err
		}
	}
	// At low rates the loop waits for its epoll descriptor in Go's own poller
	// rather than in a blocking epoll_wait: threads often blocked in a
	// syscall keep the runtime's sysmon waking every 20 µs to take their P
	// back (measured: 16 % of a core at 1,000 msgs/s against 9 %). At high
	// rates the loop rarely sleeps and the blocking wait is cheaper
	// (measured: 64 % against 74 % of a core at 20,000 msgs/s).
	l.block = r.cfg.Rate+r.cfg.PresRate >= blockingRate
	if err := unix.SetNonblock(l.epfd, true); err != nil {
		l.closeFds()
		return nil, err
	}
	l.epf = os.NewFile(uintptr(l.epfd), "bench-epoll")
	rc, err := l.epf.SyscallConn()
	if err != nil {
		l.closeFds()
		return nil, err
	}
	l.eprc = rc
	return l, nil
}

func (l *evloop) closeFds() {
	if l.epf != nil {
		_ = l.epf.Close()
		l.epfd = -1
	}
	for _, fd := range []int{l.epfd, l.tfd, l.efd} {
		if fd >= 0 {
			_ = unix.Close(fd)
		}
	}
}

func (l *evloop) wake() {
	one := [8]byte{1}
	_, _ = unix.Write(l.efd, one[:])
}

// hand gives s, online on plain TCP with its own duplicate of the socket in
// s.fd, to the loop; s's goroutine then waits on s.ended.
func (l *evloop) hand(s *session) {
	l.mu.Lock()
	l.adopt = append(l.adopt, s)
	l.mu.Unlock()
	l.wake()
}

// startSending makes the loop send its share of the paced load; wg.Done is
// called when it stops.
func (l *evloop) startSending(wg *sync.WaitGroup, chatIDs, presIDs []int32, chatRate, presRate float64) {
	if len(chatIDs) > 0 && chatRate > 0 {
		l.chat = &loopSender{kind: RoleChat, ids: chatIDs, p: NewPacer(nil, chatRate)}
	}
	if len(presIDs) > 0 && presRate > 0 {
		l.pres = &loopSender{kind: RolePresence, ids: presIDs, p: NewPacer(nil, presRate)}
	}
	l.senders = wg
	l.mu.Lock()
	l.sendOn = true
	l.mu.Unlock()
	l.wake()
}

// stopSending ends the loop's sends (startSending's wg is then Done).
func (l *evloop) stopSending() {
	l.mu.Lock()
	l.sendOff = true
	l.mu.Unlock()
	l.wake()
}

// stop ends the loop; its sessions must have ended.
func (l *evloop) stop() {
	l.mu.Lock()
	l.quit = true
	l.mu.Unlock()
	l.wake()
}

func (l *evloop) run() {
	defer l.closeFds()
	events := make([]unix.EpollEvent, 256)
	var n int
	var werr error
	poll := func(uintptr) bool { // made once: a closure per wakeup would allocate
		n, werr = unix.EpollWait(l.epfd, events, 0)
		return n != 0 || (werr != nil && werr != unix.EINTR)
	}
	for {
		n, werr = 0, nil
		if l.block {
			n, werr = unix.EpollWait(l.epfd, events, -1)
			if werr == unix.EINTR {
				continue
			}
		} else if err := l.eprc.Read(poll); err != nil {
			return
		}
		if werr != nil {
			return
		}
		for i := range n {
			ev := &events[i]
			switch ev.Fd {
			case evTimer:
				var b [8]byte
				_, _ = unix.Read(l.tfd, b[:])
				l.send()
			case evWake:
				var b [8]byte
				_, _ = unix.Read(l.efd, b[:])
				if l.control() {
					return
				}
			default:
				s := &l.r.sessions[ev.Fd]
				if ev.Events&(unix.EPOLLOUT) != 0 {
					s.flush(l)
				}
				if ev.Events&(unix.EPOLLIN|unix.EPOLLHUP|unix.EPOLLERR|unix.EPOLLRDHUP) != 0 {
					l.input(s)
				}
			}
		}
	}
}

// control takes what other goroutines asked; it reports the end of the loop.
func (l *evloop) control() bool {
	l.mu.Lock()
	adopt := l.adopt
	l.adopt = nil
	on, off, quit := l.sendOn, l.sendOff, l.quit
	l.mu.Unlock()
	for _, s := range adopt {
		s.wmu.Lock()
		fd := s.fd
		s.wmu.Unlock()
		ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLRDHUP, Fd: s.idx}
		if fd < 0 {
			l.end(s, errLoopClosed)
			continue
		}
		if l.r.cfg.Split {
			// the kernel stamps each segment as it arrives (SO_TIMESTAMPNS)
			_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, 1)
		}
		if err := unix.EpollCtl(l.epfd, unix.EPOLL_CTL_ADD, fd, &ev); err != nil {
			l.end(s, err)
		}
	}
	switch {
	case off && l.senders != nil:
		l.sending = false
		l.disarm()
		l.senders.Done()
		l.senders = nil
	case on && !off && !l.sending && l.senders != nil:
		l.sending = true
		l.send()
	}
	return quit
}

var errLoopClosed = errors.New("bench: session closed before the loop took it")

// send writes every event due by now and arms the timer for the next.
func (l *evloop) send() {
	if !l.sending {
		return
	}
	now := time.Now()
	next := time.Time{}
	for _, ls := range []*loopSender{l.chat, l.pres} {
		if ls == nil || ls.done {
			continue
		}
		for {
			due, ok := ls.p.Take(now)
			if !ok {
				break
			}
			if !l.r.sendOne(ls.kind, ls.ids, &ls.next, &ls.seq, due, now, l.id, l.queue) {
				ls.done = true // the message budget is spent
				break
			}
		}
		if !ls.done {
			if d := ls.p.Due(ls.p.Released()); next.IsZero() || d.Before(next) {
				next = d
			}
		}
	}
	l.flushQueued()
	if next.IsZero() {
		l.disarm()
		return
	}
	// wake at most once per tick: a wakeup costs more than a write on a VM,
	// and a due message waits at most a tick (counted in its latency)
	next = later(next, now.Add(l.r.cfg.Tick))
	d := max(time.Until(next), time.Microsecond)
	spec := unix.ItimerSpec{Value: unix.NsecToTimespec(int64(d))}
	_ = unix.TimerfdSettime(l.tfd, 0, &spec, nil)
}

// queue takes one paced event of s for the write at the end of this
// wakeup: events of one session due within the same tick go out together,
// as a client with several stanzas ready writes them.
func (l *evloop) queue(s *session, b []byte) {
	if len(s.batch) == 0 {
		l.batched = append(l.batched, s)
	}
	if l.r.cfg.Split {
		if off := sentOffset(b); off >= 0 {
			s.stamps = append(s.stamps, len(s.batch)+off)
		}
	}
	s.batch = append(s.batch, b...)
}

// flushQueued writes what queue gathered, one write per session.
func (l *evloop) flushQueued() {
	for i, s := range l.batched {
		if len(s.stamps) > 0 {
			now := time.Now().UnixNano()
			for _, off := range s.stamps {
				stampSent(s.batch[off:], now)
			}
			s.stamps = s.stamps[:0]
		}
		_ = s.write(s.batch) // a failed write shows as a dropped session and lost messages
		if cap(s.batch) > 4<<10 {
			s.batch = nil
		} else {
			s.batch = s.batch[:0]
		}
		l.batched[i] = nil
	}
	l.batched = l.batched[:0]
}

func (l *evloop) disarm() {
	var spec unix.ItimerSpec
	_ = unix.TimerfdSettime(l.tfd, 0, &spec, nil)
}

// input reads once from s's socket and feeds the scanner.
func (l *evloop) input(s *session) {
	s.wmu.Lock()
	fd := s.fd
	s.wmu.Unlock()
	if fd < 0 {
		return
	}
	var n int
	var err error
	if l.r.cfg.Split {
		n, err = l.readStamped(fd, s)
	} else {
		n, err = unix.Read(fd, l.buf)
	}
	switch {
	case err == unix.EAGAIN || err == unix.EINTR:
		return
	case err != nil:
		l.end(s, err)
		return
	case n == 0:
		l.end(s, io.EOF)
		return
	}
	if err := s.sc.Feed(l.buf[:n], s); err != nil {
		l.end(s, err)
	}
}

// readStamped reads as input does, and keeps the kernel's receive
// timestamp of the last segment read in s.rxAt (--split).
func (l *evloop) readStamped(fd int, s *session) (int, error) {
	if l.oob == nil {
		l.oob = make([]byte, unix.CmsgSpace(16))
	}
	n, oobn, _, _, err := unix.Recvmsg(fd, l.buf, l.oob, 0)
	s.rxAt = 0
	// one control message: cmsghdr (len, level, type), then a timespec
	if err == nil && oobn >= unix.SizeofCmsghdr+16 {
		h := (*unix.Cmsghdr)(unsafe.Pointer(&l.oob[0]))
		if h.Level == unix.SOL_SOCKET && h.Type == unix.SO_TIMESTAMPNS {
			ts := (*unix.Timespec)(unsafe.Pointer(&l.oob[unix.SizeofCmsghdr]))
			s.rxAt = ts.Nano()
		}
	}
	return n, err
}

// end closes s's socket and hands err to s's goroutine.
func (l *evloop) end(s *session, err error) {
	s.wmu.Lock()
	if s.fd >= 0 {
		_ = unix.EpollCtl(l.epfd, unix.EPOLL_CTL_DEL, s.fd, nil)
		_ = unix.Close(s.fd)
		s.fd = -1
	}
	s.out = nil
	s.wmu.Unlock()
	s.ended <- err
}

// maxLoopBacklog bounds what a loop session holds for a server that does
// not read: past it, the message is counted as not sent.
const maxLoopBacklog = 1 << 20

// writeFdLocked writes b on a loop session's socket, or queues it behind
// what is already waiting, watching for writability. The caller holds wmu
// and saw fd >= 0.
func (s *session) writeFdLocked(b []byte) error {
	if len(s.out) == 0 {
		for len(b) > 0 {
			n, err := unix.Write(s.fd, b)
			if err == unix.EINTR {
				continue
			}
			if err == unix.EAGAIN {
				break
			}
			if err != nil {
				return err
			}
			b = b[n:]
		}
		if len(b) == 0 {
			return nil
		}
		ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLRDHUP | unix.EPOLLOUT, Fd: s.idx}
		_ = unix.EpollCtl(s.ev.epfd, unix.EPOLL_CTL_MOD, s.fd, &ev)
	}
	if len(s.out)+len(b) > maxLoopBacklog {
		return errBacklog
	}
	s.out = append(s.out, b...)
	return nil
}

var errBacklog = errors.New("bench: the server is not reading")

// flush writes what writeFd queued, once the socket takes it.
func (s *session) flush(l *evloop) {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	for s.fd >= 0 && len(s.out) > 0 {
		n, err := unix.Write(s.fd, s.out)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return // EAGAIN: wait for the next event; else the read side sees the error
		}
		s.out = s.out[n:]
	}
	if s.fd >= 0 && len(s.out) == 0 {
		s.out = nil
		ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLRDHUP, Fd: s.idx}
		_ = unix.EpollCtl(l.epfd, unix.EPOLL_CTL_MOD, s.fd, &ev)
	}
}

// shutdownFd ends a loop session from outside the loop: the loop then reads
// EOF and ends it. polite writes the stream close first. It reports false
// if the session is not on a loop.
func (s *session) shutdownFd(polite bool) bool {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if s.fd < 0 {
		return false
	}
	if polite && len(s.out) == 0 {
		_, _ = unix.Write(s.fd, s.r.close)
	}
	_ = unix.Shutdown(s.fd, unix.SHUT_RDWR)
	return true
}

// detachFd moves s's plain TCP socket from Go's poller to loop l: s.fd gets
// a duplicate descriptor that Go does not know, and the net.Conn is closed
// (the socket stays open through the duplicate).
func (s *session) detachFd(l *evloop) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	tc, ok := s.getConn().(*net.TCPConn)
	if !ok {
		return errNotTCP
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		return err
	}
	dup := -1
	var derr error
	if err := rc.Control(func(fd uintptr) { dup, derr = unix.FcntlInt(fd, unix.F_DUPFD_CLOEXEC, 0) }); err != nil {
		return err
	}
	if derr != nil {
		return derr
	}
	s.mu.Lock()
	s.conn = nil
	s.mu.Unlock()
	_ = tc.Close()
	s.fd, s.ev = dup, l
	return nil
}

var errNotTCP = errors.New("bench: not a TCP connection")

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
