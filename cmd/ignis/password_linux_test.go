package main

import (
	"bufio"
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// openPTY returns a pseudo-terminal's controlling side and its terminal.
func openPTY(t *testing.T) (ptm, pts *os.File) {
	t.Helper()
	ptm, err := os.OpenFile("/dev/ptmx", os.O_RDWR, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals: %v", err)
	}
	if err := unix.IoctlSetPointerInt(int(ptm.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Skipf("unlockpt: %v", err)
	}
	n, err := unix.IoctlGetInt(int(ptm.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Skipf("ptsname: %v", err)
	}
	pts, err = os.OpenFile("/dev/pts/"+strconv.Itoa(n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("opening the terminal: %v", err)
	}
	t.Cleanup(func() { ptm.Close(); pts.Close() })
	return ptm, pts
}

// TestPasswordOnTerminal: on a terminal `user add` and `user passwd` ask
// twice without echo; two different answers change nothing.
func TestPasswordOnTerminal(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	for _, tc := range []struct {
		args   []string
		typed  string
		want   string // on the terminal
		exitOK bool
	}{
		{[]string{"user", "add", "--data", data, "alice@localhost"}, "s3cret\ns3cret\n", "user alice@localhost added", true},
		{[]string{"user", "passwd", "--data", data, "alice@localhost"}, "n3w\nother\n", "the two passwords differ", false},
		{[]string{"user", "passwd", "--data", data, "alice@localhost"}, "n3w\nn3w\n", "password changed for alice@localhost", true},
	} {
		ptm, pts := openPTY(t)
		cmd := ignis(t, tc.args...)
		cmd.Stdin, cmd.Stdout, cmd.Stderr = pts, pts, pts
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		out := make(chan string, 1)
		go func() {
			var b bytes.Buffer
			r := bufio.NewReader(ptm)
			typed := strings.SplitAfter(tc.typed, "\n")
			for {
				s, err := r.ReadString(':')
				b.WriteString(s)
				if err != nil {
					break
				}
				if strings.HasSuffix(s, "password:") || strings.HasSuffix(s, "again:") {
					io.WriteString(ptm, typed[0])
					typed = typed[1:]
				}
				if len(typed) == 1 { // both typed: the rest is the answer
					_ = ptm.SetReadDeadline(time.Now().Add(10 * time.Second))
					rest, _ := io.ReadAll(r)
					b.Write(rest)
					break
				}
			}
			out <- b.String()
		}()
		err := cmd.Wait()
		pts.Close() // the reader sees EOF (EIO) once the child is gone
		got := <-out
		if (err == nil) != tc.exitOK || !strings.Contains(got, tc.want) {
			t.Errorf("%v: %v, terminal showed %q; want %q", tc.args, err, got, tc.want)
		}
		for _, pw := range strings.Fields(tc.typed) {
			if strings.Contains(got, pw) {
				t.Errorf("%v: the password %q was echoed: %q", tc.args, pw, got)
			}
		}
	}
}
