package bench

import (
	"bytes"
	"context"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestLoginRates: the login rate is over the seconds that had logins, not
// the whole run; the peak is the busiest second.
func TestLoginRates(t *testing.T) {
	pts := func(logins ...int64) []Point {
		ps := make([]Point, len(logins))
		for i, n := range logins {
			ps[i] = Point{T: float64(i + 1), Logins: n}
		}
		return ps
	}
	for _, tc := range []struct {
		name              string
		series            []Point
		phase, rate, peak float64
	}{
		{"burst then idle", pts(200, 0, 0, 0, 0, 0, 0, 0, 0, 0), 1, 200, 200},
		{"ramp", pts(0, 50, 150, 100, 0, 0), 3, 100, 150},
		{"continuous", pts(10, 30, 20), 3, 20, 30},
	} {
		r := &Result{Series: tc.series, LoginsPerS: -1}
		r.setLoginRates()
		if math.Abs(r.LoginPhaseS-tc.phase) > 1e-9 || math.Abs(r.LoginsPerS-tc.rate) > 1e-9 || math.Abs(r.LoginsPeakPerS-tc.peak) > 1e-9 {
			t.Errorf("%s: phase %v rate %v peak %v, want %v %v %v", tc.name, r.LoginPhaseS, r.LoginsPerS, r.LoginsPeakPerS, tc.phase, tc.rate, tc.peak)
		}
	}
}

// TestMaxFailedVerdict: a run where every session failed (wrong password)
// exits non-zero; --max-failed 1 accepts it.
func TestMaxFailedVerdict(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	env := startServer(t, 5)
	for _, tc := range []struct {
		extra   string
		wantErr string
	}{
		{"", "5 of 5 sessions failed (100.0%), more than --max-failed 0.01"},
		{"--max-failed 1", ""},
	} {
		var out bytes.Buffer
		args := strings.Fields("--progress 0 --domain localhost --password wrong --addr " + env.Addr + " --scenario idle --sessions 5 --duration 1s --timeout 5s " + tc.extra)
		err := Command(context.Background(), args, nil, nil, &out, io.Discard)
		if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
			t.Errorf("%q: %v, want %q", tc.extra, err, tc.wantErr)
		}
		if !strings.Contains(out.String(), "0 established, 5 failed") {
			t.Errorf("%q: summary %q", tc.extra, out.String())
		}
	}
}

// TestServerDataPID: --server-data reads the server's pid from its data
// folder, and refuses a folder no server runs on.
func TestServerDataPID(t *testing.T) {
	env := startServer(t, 0)
	pid, err := readPIDFile(env.Cfg.Data)
	if err != nil || pid != os.Getpid() {
		t.Errorf("readPIDFile = %d, %v; want this process %d", pid, err, os.Getpid())
	}
	dir := t.TempDir()
	if _, err := readPIDFile(dir); err == nil || !strings.Contains(err.Error(), "is an Ignis server running") {
		t.Errorf("empty folder: %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "ignis.pid"), []byte(strconv.Itoa(math.MaxInt32)+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := readPIDFile(dir); err == nil || !strings.Contains(err.Error(), "is not running") {
		t.Errorf("stale pid file: %v", err)
	}
	if _, err := ParseArgs(strings.Fields("--server-data x --server-pid 3"), io.Discard); err == nil {
		t.Error("--server-data with --server-pid accepted")
	}
	// a whole run samples the server found through its folder
	env.AddUser("user1", "secret")
	var out bytes.Buffer
	args := strings.Fields("--progress 0 --domain localhost --password secret --addr " + env.Addr + " --scenario idle --sessions 1 --duration 1s --server-data " + env.Cfg.Data)
	if err := Command(context.Background(), args, nil, nil, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), strconv.Itoa(os.Getpid())+": RSS") {
		t.Errorf("summary does not sample the server: %q", out.String())
	}
}
