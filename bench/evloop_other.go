//go:build !linux

package bench

import (
	"errors"
	"sync"
)

// evloop exists on Linux only; elsewhere every session keeps its goroutine.
type evloop struct{ epfd int }

func newLoops(*run, int) []*evloop { return nil }

func (*evloop) hand(*session)                                                    {}
func (*evloop) startSending(*sync.WaitGroup, []int32, []int32, float64, float64) {}
func (*evloop) stopSending()                                                     {}
func (*evloop) stop()                                                            {}
func (*session) writeFdLocked([]byte) error                                      { return errNoLoops }
func (*session) shutdownFd(bool) bool                                            { return false }
func (*session) detachFd(*evloop) error                                          { return errNoLoops }

var errNoLoops = errors.New("bench: no event loops on this system")
