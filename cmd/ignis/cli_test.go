package main

import (
	"bufio"
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"ignis/internal/servertest"
	"ignis/mod/version"
)

// TestMain lets the tests run this binary as `ignis` (IGNIS_AS_MAIN=1).
func TestMain(m *testing.M) {
	if os.Getenv("IGNIS_AS_MAIN") == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// ignis starts `ignis args…` as a process.
func ignis(t *testing.T, args ...string) *exec.Cmd {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, args...)
	cmd.Env = append(os.Environ(), "IGNIS_AS_MAIN=1")
	cmd.Args[0] = "ignis"
	return cmd
}

// startLogged starts cmd and returns a scanner over its log (standard
// error); the process is killed when the test ends, if still running.
func startLogged(t *testing.T, cmd *exec.Cmd) *bufio.Scanner {
	t.Helper()
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	return bufio.NewScanner(stderr)
}

// TestHelpEverywhere: every command and subcommand answers --help on
// stdout and exits 0.
func TestHelpEverywhere(t *testing.T) {
	for _, args := range [][]string{
		{"--help"}, {"help"}, {"serve", "--help"}, {"serve", "-h"},
		{"user", "--help"}, {"user", "add", "--help"}, {"user", "passwd", "--help"}, {"user", "del", "-h"}, {"user", "list", "--help"},
		{"group", "--help"}, {"group", "add", "--help"}, {"group", "member", "--help"}, {"group", "member", "add", "--help"}, {"group", "list", "-h"},
		{"sessions", "--help"}, {"kick", "--help"}, {"version", "--help"}, {"bench", "--help"},
		{"stats", "--help"}, {"announce", "--help"}, {"token", "--help"}, {"token", "create", "--help"},
		{"room", "--help"}, {"room", "list", "--help"}, {"room", "destroy", "-h"},
	} {
		var stdout, stderr bytes.Buffer
		cmd := ignis(t, args...)
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			t.Errorf("ignis %v: %v; stderr %q", args, err, stderr.String())
			continue
		}
		if out := stdout.String() + stderr.String(); !strings.Contains(strings.ToLower(out), "usage") {
			t.Errorf("ignis %v printed %q, want a usage", args, out)
		}
	}
	out, err := ignis(t, "version").Output()
	if err != nil || !strings.HasPrefix(string(out), "Ignis "+version.Version+" ") {
		t.Errorf("ignis version = %q, %v; want Ignis %s", out, err, version.Version)
	}
	if err := ignis(t, "frobnicate").Run(); exitCode(err) != 2 {
		t.Errorf("unknown command: %v, want exit 2", err)
	}
}

func exitCode(err error) int {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	if err == nil {
		return 0
	}
	return -1
}

// TestUserCommand: JIDs of other domains are refused, a folder without data
// is refused rather than created, errors say a thing once, list prints JIDs,
// and each change says what it did.
func TestUserCommand(t *testing.T) {
	run := userFolder(t, "example.net\n")
	typo := filepath.Join(t.TempDir(), "typo")
	for _, args := range [][]string{{"list"}, {"del", "a@example.net"}, {"passwd", "a@example.net", "pw"}} {
		var out bytes.Buffer
		err := user(append(args, "--data", typo), strings.NewReader(""), &out)
		if err == nil || !strings.Contains(err.Error(), "holds no Ignis data") {
			t.Errorf("user %v on a typo: %v", args, err)
		}
	}
	if _, err := os.Stat(typo); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the typo folder was created: %v", err)
	}

	runUserSteps(t, run, []userStep{
		{"", []string{"add", "carol@example.org", "pw"}, "", "user add: carol@example.org: this server serves example.net, not example.org"},
		{"s3cret\n", []string{"add", "alice@example.net"}, "user alice@example.net added\n", ""},
		{"", []string{"add", "alice", "pw"}, "", "user add alice@example.net: already exists"},
		{"", []string{"add", "bob@example.net", "pw"}, "user bob@example.net added\n", ""},
		{"n3w\n", []string{"passwd", "alice@example.net"}, "password changed for alice@example.net\n", ""},
		{"", []string{"passwd", "zed@example.net", "pw"}, "", "user passwd zed@example.net: does not exist"},
		{"", []string{"del", "bob@example.net"}, "user bob@example.net deleted\n", ""},
		{"", []string{"add", "--bulk", "20", "--users", "u%d", "--password", "pw"}, "20 users added\n", ""},
		{"", []string{"add", "--bulk", "21", "--users", "u%d", "--password", "pw"}, "", "user add: 0 of 21 accounts created; u"},
		{"", []string{"add", "eve@example.net"}, "", "no password on standard input"},
	})
	out, err := run("", "list")
	if err != nil || !strings.HasPrefix(out, "alice@example.net\nu1@example.net\n") || strings.Count(out, "\n") != 21 {
		t.Errorf("list = %q, %v", out, err)
	}
}

// userStep is one `ignis user` run: its standard input and arguments, and
// what it prints or the error it ends with.
type userStep struct {
	stdin   string
	args    []string
	out     string
	wantErr string
}

// runUserSteps runs each step in turn with run (userFolder).
func runUserSteps(t *testing.T, run func(stdin string, args ...string) (string, error), steps []userStep) {
	t.Helper()
	for _, s := range steps {
		out, err := run(s.stdin, s.args...)
		switch {
		case s.wantErr == "" && err != nil:
			t.Errorf("user %v: %v", s.args, err)
		case s.wantErr != "" && (err == nil || !strings.Contains(err.Error(), s.wantErr)):
			t.Errorf("user %v: error %v, want %q", s.args, err, s.wantErr)
		case s.wantErr == "" && out != s.out:
			t.Errorf("user %v printed %q, want %q", s.args, out, s.out)
		}
	}
}

// userFolder makes a data folder whose domain file holds domains (as a
// server writes it) and returns a runner of `ignis user` on it.
func userFolder(t *testing.T, domains string) func(stdin string, args ...string) (string, error) {
	t.Helper()
	data := filepath.Join(t.TempDir(), "data")
	if err := os.MkdirAll(data, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(data, "domain"), []byte(domains), 0o644); err != nil {
		t.Fatal(err)
	}
	return func(stdin string, args ...string) (string, error) {
		var out bytes.Buffer
		err := user(append(args, "--data", data), strings.NewReader(stdin), &out)
		return out.String(), err
	}
}

// TestSecondServerOnTakenPort: a second `ignis serve` on the port a running
// server holds exits non-zero saying so, before creating its data folder;
// so does a port that is not a port.
func TestSecondServerOnTakenPort(t *testing.T) {
	env := servertest.Start(t)
	for _, tc := range []struct{ c2s, want string }{
		{env.Addr, "address already in use"},
		{":" + env.Addr[strings.LastIndexByte(env.Addr, ':')+1:], "address already in use"},
		{"127.0.0.1:99999", "not a number in 0..65535"},
	} {
		data := filepath.Join(t.TempDir(), "other")
		var stderr bytes.Buffer
		cmd := ignis(t, "serve", "--data", data, "--c2s", tc.c2s, "--c2s-tls", "off")
		cmd.Stderr = &stderr
		err := cmd.Run()
		if exitCode(err) != 1 || !strings.Contains(stderr.String(), tc.want) {
			t.Errorf("serve --c2s %s: %v, stderr %q; want exit 1 and %q", tc.c2s, err, stderr.String(), tc.want)
		}
		if _, err := os.Stat(data); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("serve --c2s %s created its data folder: %v", tc.c2s, err)
		}
	}
}

// TestServeStartupAndPIDFile: the first line a fresh start logs is Ignis's
// own (the self-signed certificate it made, and where), then "ignis started"
// with the ports and features; the pid file lives while the server runs and
// is removed at a clean stop.
func TestServeStartupAndPIDFile(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	cmd := ignis(t, "serve", "--data", data, "--c2s", "127.0.0.1:0", "--c2s-tls", "127.0.0.1:0")
	sc := startLogged(t, cmd)
	var lines []string
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if strings.Contains(sc.Text(), `msg="ignis started"`) {
			break
		}
	}
	if len(lines) == 0 || !strings.Contains(lines[0], "created a self-signed certificate") || !strings.Contains(lines[0], filepath.Join(data, "cert.pem")) {
		t.Errorf("first line %q, want the self-signed certificate and its path", lines)
	}
	started := lines[len(lines)-1]
	for _, want := range []string{"c2s_starttls=127.0.0.1:", "c2s_direct_tls=127.0.0.1:", "register=loopback", "modules=disco,", "pid=" + strconv.Itoa(cmd.Process.Pid)} {
		if !strings.Contains(started, want) {
			t.Errorf("startup line %q lacks %q", started, want)
		}
	}
	for _, l := range lines {
		if strings.Contains(l, "gnet") {
			t.Errorf("a library banner at info level: %q", l)
		}
	}
	pid, err := os.ReadFile(filepath.Join(data, "ignis.pid"))
	if err != nil || strings.TrimSpace(string(pid)) != strconv.Itoa(cmd.Process.Pid) {
		t.Errorf("pid file = %q, %v; want %d", pid, err, cmd.Process.Pid)
	}
	go func() {
		for sc.Scan() {
		}
	}()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("serve exited with %v after SIGTERM", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("serve did not stop within 20 s of SIGTERM")
	}
	if _, err := os.Stat(filepath.Join(data, "ignis.pid")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("pid file left after a clean stop: %v", err)
	}
}

// TestCommandsOnRunningServer: through the admin socket the CLI learns the
// server's domain, lists its sessions and kicks one; sessions and kick on a
// stopped server's folder say there is no server.
func TestCommandsOnRunningServer(t *testing.T) {
	env := servertest.Start(t)
	data := env.Cfg.Data
	var out bytes.Buffer
	if err := user([]string{"add", "carol@example.org", "pw", "--data", data}, strings.NewReader(""), &out); err == nil ||
		err.Error() != "user add: carol@example.org: this server serves localhost, not example.org" {
		t.Errorf("add carol@example.org: %v", err)
	}
	if err := user([]string{"add", "dave@localhost", "pw", "--data", data}, strings.NewReader(""), &out); err != nil || out.String() != "user dave@localhost added\n" {
		t.Fatalf("add dave: %v %q", err, out.String())
	}
	out.Reset()
	if err := sessions([]string{"--data", data}, &out); err != nil || out.String() != "JID  IP  TLS  SM  SINCE\n" {
		t.Errorf("sessions with nobody online: %v %q", err, out.String())
	}
	if err := kick([]string{"--data", data, "dave@localhost"}, &out); err == nil || !strings.Contains(err.Error(), "no session is bound to dave@localhost") {
		t.Errorf("kick of nobody: %v", err)
	}
	stopped := t.TempDir()
	if err := user([]string{"add", "x@localhost", "pw", "--data", stopped}, strings.NewReader(""), &out); err != nil {
		t.Fatal(err)
	}
	if err := sessions([]string{"--data", stopped}, &out); err == nil || err.Error() != "sessions: no server is running on "+stopped {
		t.Errorf("sessions on a stopped server's folder: %v", err)
	}
	if err := kick([]string{"--data", stopped, "x@localhost"}, &out); err == nil || err.Error() != "kick: no server is running on "+stopped {
		t.Errorf("kick on a stopped server's folder: %v", err)
	}
}

// TestHeapProfileOnSignal: with --memprofile, SIGUSR1 writes FILE.1 (a
// heap profile pprof reads) and logs it, and the server keeps running.
func TestHeapProfileOnSignal(t *testing.T) {
	dir := t.TempDir()
	prof := filepath.Join(dir, "heap")
	cmd := ignis(t, "serve", "--data", filepath.Join(dir, "data"), "--c2s", "127.0.0.1:0", "--c2s-tls", "off", "--memprofile", prof)
	sc := startLogged(t, cmd)
	waitLine := func(want string) string {
		t.Helper()
		for sc.Scan() {
			if strings.Contains(sc.Text(), want) {
				return sc.Text()
			}
		}
		t.Fatalf("server output ended before a line with %q", want)
		return ""
	}
	waitLine(`msg="ignis started"`)
	for n := 1; n <= 2; n++ {
		if err := cmd.Process.Signal(syscall.SIGUSR1); err != nil {
			t.Fatal(err)
		}
		name := prof + "." + strconv.Itoa(n)
		line := waitLine(`msg="memprofile written"`)
		if !strings.Contains(line, "file="+name) || !strings.Contains(line, "heap_inuse=") {
			t.Errorf("log line %q, want file=%s and the heap figures", line, name)
		}
		b, err := os.ReadFile(name)
		// a pprof profile is gzip-compressed protobuf
		if err != nil || len(b) < 2 || b[0] != 0x1f || b[1] != 0x8b {
			t.Errorf("%s: %d bytes, %v; want a gzip-compressed profile", name, len(b), err)
		}
	}
	go func() {
		for sc.Scan() {
		}
	}()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Errorf("serve exited with %v after SIGTERM", err)
	}
	if _, err := os.Stat(prof); err != nil {
		t.Errorf("no profile at shutdown: %v", err)
	}
}
