package server

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

// lockedBuffer is a log sink the server's goroutines may share.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) take() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.b.String()
	l.b.Reset()
	return s
}

// TestAdminLog: over the admin socket, a bulk add is one info line with its
// count, a read is not logged at info, a success carries no error="" and a
// failure is a warning that says why once.
func TestAdminLog(t *testing.T) {
	var logs lockedBuffer
	cfg := DefaultConfig()
	cfg.Data = t.TempDir()
	cfg.Listen.C2S, cfg.Listen.C2STLS = "127.0.0.1:0", "off"
	srv, err := New(cfg, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Stop(ctx)
	})
	logs.take()

	var users []string
	for i := range 40 {
		users = append(users, fmt.Sprintf("u%d", i))
	}
	for _, tc := range []struct {
		req      AdminRequest
		wantErr  string
		wantLogs []string // one per line
	}{
		{AdminRequest{Op: "user-add", Users: users, Password: "pw"}, "", []string{`level=INFO msg=admin op=user-add by=socket users=40 created=40`}},
		{AdminRequest{Op: "user-list"}, "", nil},
		{AdminRequest{Op: "user-add", User: "u1", Password: "pw"}, "already exists", []string{`level=WARN msg=admin op=user-add by=socket user=u1 error="already exists"`}},
		{AdminRequest{Op: "user-del", User: "u1"}, "", []string{`level=INFO msg=admin op=user-del by=socket user=u1`}},
		{AdminRequest{Op: "user-passwd", User: "u1", Password: "x"}, "does not exist", []string{`level=WARN msg=admin op=user-passwd by=socket user=u1 error="does not exist"`}},
	} {
		rep, err := CallAdmin(cfg.Data, tc.req)
		if err != nil || rep.Error != tc.wantErr {
			t.Errorf("%s: %v %q, want error %q", tc.req.Op, err, rep.Error, tc.wantErr)
		}
		var got []string
		for _, l := range strings.Split(strings.TrimSpace(logs.take()), "\n") {
			if l != "" {
				got = append(got, l[strings.Index(l, " ")+1:]) // without time=
			}
		}
		if strings.Join(got, "\n") != strings.Join(tc.wantLogs, "\n") {
			t.Errorf("%s logged %q, want %q", tc.req.Op, got, tc.wantLogs)
		}
	}
}
