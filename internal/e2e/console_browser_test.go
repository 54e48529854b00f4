package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"ignis/internal/testkit"
)

// screenshotDir is where the browser test keeps its screenshots:
// IGNIS_SCREENSHOTS if set (CI keeps them as artifacts), else a temporary
// folder.
func screenshotDir(t *testing.T) string {
	if d := os.Getenv("IGNIS_SCREENSHOTS"); d != "" {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		return d
	}
	return t.TempDir()
}

// TestConsoleInBrowser drives the web console in headless Chromium over the
// TLS port: sign in, kick a session, add an account, and a form whose CSRF
// token was tampered with is refused.
func TestConsoleInBrowser(t *testing.T) {
	browser := testkit.Chromium(t)
	env := startConsole(t)
	env.AddUser("root", "rootpw")
	env.AddUser("alice", "wonderland")
	phone := rawLogin(t, env.Env, "alice", "wonderland", "phone")

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(browser),
		chromedp.Flag("ignore-certificate-errors", true), // the test server's self-signed certificate
		chromedp.Flag("no-sandbox", true),
		chromedp.WindowSize(1200, 800),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Env("HOME="+t.TempDir()), // keep chromium's dot files out of the real home
	)
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancel()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	if err := chromedp.Do(ctx); err != nil { // starts the browser, with no deadline (chromedp.Run)
		t.Fatalf("starting chromium: %v", err)
	}
	ctx, cancel = context.WithTimeout(ctx, 60*time.Second)
	defer cancel()

	dir := screenshotDir(t)
	shot := func(name string) chromedp.Action[chromedp.Void] {
		return func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
			b, err := chromedp.FullScreenshot(100)(ctx, tg) // quality 100 is PNG
			if err != nil {
				return chromedp.Void{}, err
			}
			return chromedp.Void{}, os.WriteFile(filepath.Join(dir, name+".png"), b, 0o644)
		}
	}
	text := func(sel string) string {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("text of %s: %v", sel, err)
		}
		return s
	}
	do := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, steps...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	do("sign in",
		chromedp.Navigate(env.tls+"/"), // redirected to the sign-in page
		chromedp.WaitVisible(chromedp.CSS("#login")),
		chromedp.SendKeys(chromedp.CSS("#user"), "root"),
		chromedp.SendKeys(chromedp.CSS("#password"), "rootpw"),
		shot("01-sign-in"),
		chromedp.Click(chromedp.CSS("#signin")),
		chromedp.WaitVisible(chromedp.CSS("#sessions")),
		shot("02-figures"),
	)
	nav := text("nav")
	do("sessions",
		chromedp.Navigate(env.tls+"/sessions"),
		chromedp.WaitVisible(chromedp.CSS("#session-table")),
		shot("03-sessions"),
	)
	sessions := text("#session-table")
	do("kick",
		chromedp.Click(chromedp.CSS(`button.kick[data-jid="alice@localhost/phone"]`)),
		chromedp.WaitVisible(chromedp.CSS("#flash")),
	)
	do("add an account",
		chromedp.Navigate(env.tls+"/accounts"),
		chromedp.WaitVisible(chromedp.CSS("#add-account")),
		chromedp.SendKeys(chromedp.CSS("#new-user"), "grace"),
		chromedp.SendKeys(chromedp.CSS("#new-password"), "hopper"),
		chromedp.Click(chromedp.CSS("#add")),
		chromedp.WaitVisible(chromedp.CSS("#flash")),
		shot("04-accounts"),
	)
	flash := text("#flash")
	do("a tampered CSRF token",
		chromedp.SetValue(chromedp.CSS(`#add-account input[name="csrf"]`), "0000"),
		chromedp.SetValue(chromedp.CSS("#new-user"), "mallory"),
		chromedp.SetValue(chromedp.CSS("#new-password"), "x"),
		chromedp.Click(chromedp.CSS("#add")),
		chromedp.WaitNotPresent(chromedp.CSS("#add-account")),
		shot("05-bad-csrf"),
	)
	refused := text("body")
	t.Logf("screenshots in %s", dir)
	if !strings.Contains(nav, "root@localhost") {
		t.Errorf("navigation %q does not name the signed-in administrator", nav)
	}
	if !strings.Contains(sessions, "alice@localhost") || !strings.Contains(sessions, "phone") || !strings.Contains(sessions, "tcp") {
		t.Errorf("sessions table %q lacks alice's phone", sessions)
	}
	if got := readAll(t, phone); !strings.Contains(got, "<policy-violation") {
		t.Errorf("alice's stream after the kick: %q", got)
	}
	if _, err := env.Srv.DB().Accounts().Get("grace"); err != nil || !strings.Contains(flash, "user-add done") {
		t.Errorf("grace not added (%v); flash %q", err, flash)
	}
	if _, err := env.Srv.DB().Accounts().Get("mallory"); err == nil || !strings.Contains(refused, "CSRF") {
		t.Errorf("the tampered form was not refused: %q", refused)
	}
}
