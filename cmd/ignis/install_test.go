package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"ignis/internal/server"
)

// TestMakeInstall stages `make install DESTDIR=…` and checks the tree: the
// binary runs, the unit is sandboxed and passes systemd-analyze verify (when
// it is installed), the config sample loads, and the data folder is private.
func TestMakeInstall(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("no make")
	}
	dest := t.TempDir()
	cmd := exec.Command("make", "-C", "../..", "install", "DESTDIR="+dest)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("make install: %v\n%s", err, out)
	}
	want := map[string]os.FileMode{
		"usr/local/bin/ignis":              0o755,
		"etc/systemd/system/ignis.service": 0o644,
		"usr/lib/sysusers.d/ignis.conf":    0o644,
		"etc/ignis/ignis.toml":             0o640,
		"var/lib/ignis":                    os.ModeDir | 0o750,
	}
	for p, mode := range want {
		st, err := os.Stat(filepath.Join(dest, p))
		if err != nil {
			t.Errorf("%s: %v", p, err)
			continue
		}
		if st.Mode()&(os.ModeDir|os.ModePerm) != mode {
			t.Errorf("%s: mode %v, want %v", p, st.Mode(), mode)
		}
	}
	bin := filepath.Join(dest, "usr/local/bin/ignis")
	if out, err := exec.Command(bin, "version").Output(); err != nil || !strings.HasPrefix(string(out), "Ignis ") {
		t.Errorf("installed ignis version: %q, %v", out, err)
	}

	unit, err := os.ReadFile(filepath.Join(dest, "etc/systemd/system/ignis.service"))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range []string{
		"ExecStart=/usr/local/bin/ignis serve --config /etc/ignis/ignis.toml", "User=ignis", "StateDirectory=ignis",
		"ProtectSystem=strict", "NoNewPrivileges=yes", "ProtectHome=yes", "PrivateTmp=yes", "CapabilityBoundingSet=",
	} {
		if !bytes.Contains(unit, []byte("\n"+line+"\n")) {
			t.Errorf("unit lacks %q", line)
		}
	}
	if sysusers, _ := os.ReadFile(filepath.Join(dest, "usr/lib/sysusers.d/ignis.conf")); !bytes.Contains(sysusers, []byte("u ignis ")) {
		t.Errorf("sysusers.d does not create the ignis user: %q", sysusers)
	}
	cfg, err := server.LoadConfig(filepath.Join(dest, "etc/ignis/ignis.toml"))
	if err == nil {
		err = cfg.Validate()
	}
	if err != nil || cfg.Data != "/var/lib/ignis" {
		t.Errorf("config sample: %v, data %q", err, cfg.Data)
	}

	if _, err := exec.LookPath("systemd-analyze"); err != nil {
		t.Log("no systemd-analyze: unit not verified")
		return
	}
	// verify against this machine, with ExecStart pointing into the stage
	staged := filepath.Join(t.TempDir(), "ignis.service")
	if err := os.WriteFile(staged, bytes.ReplaceAll(unit, []byte("=/usr/local/bin/ignis"), []byte("="+bin)), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("systemd-analyze", "verify", staged).CombinedOutput(); err != nil || len(out) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
}
