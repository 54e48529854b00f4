package bench

import (
	"bytes"
	"errors"
	"os"
	"strconv"
	"time"
)

// clockTicks is USER_HZ, the unit of utime and stime in /proc/PID/stat. It
// is 100 on every Linux architecture Go supports.
const clockTicks = 100

// ProcSample is one reading of a process's memory and CPU time.
type ProcSample struct {
	At  time.Time
	RSS int64         // resident set size, bytes (VmRSS)
	CPU time.Duration // user + system CPU time so far
}

// ReadProc reads /proc/PID/status (VmRSS) and /proc/PID/stat (utime+stime).
func ReadProc(pid int) (ProcSample, error) {
	s := ProcSample{At: time.Now()}
	dir := "/proc/" + strconv.Itoa(pid)
	st, err := os.ReadFile(dir + "/status")
	if err != nil {
		return s, err
	}
	for line := range bytes.SplitSeq(st, []byte{'\n'}) {
		if v, ok := bytes.CutPrefix(line, []byte("VmRSS:")); ok {
			f := bytes.Fields(v)
			if len(f) >= 1 {
				kb, err := strconv.ParseInt(string(f[0]), 10, 64)
				if err != nil {
					return s, err
				}
				s.RSS = kb << 10
			}
		}
	}
	stat, err := os.ReadFile(dir + "/stat")
	if err != nil {
		return s, err
	}
	// the command name may hold spaces and parentheses: fields start after the last ')'
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return s, errors.New("procstat: malformed " + dir + "/stat")
	}
	f := bytes.Fields(stat[i+1:])
	// f[0] is field 3 (state); utime and stime are fields 14 and 15
	if len(f) < 13 {
		return s, errors.New("procstat: short " + dir + "/stat")
	}
	ut, err1 := strconv.ParseInt(string(f[11]), 10, 64)
	stt, err2 := strconv.ParseInt(string(f[12]), 10, 64)
	if err1 != nil || err2 != nil {
		return s, errors.New("procstat: malformed times in " + dir + "/stat")
	}
	s.CPU = time.Duration(ut+stt) * time.Second / clockTicks
	return s, nil
}

// cpuPercent is the CPU used between two samples, in % of one core.
func cpuPercent(a, b ProcSample) float64 {
	el := b.At.Sub(a.At)
	if el <= 0 || a.At.IsZero() {
		return 0
	}
	return 100 * float64(b.CPU-a.CPU) / float64(el)
}

func pidSelf() int { return os.Getpid() }
