package store

import (
	"bufio"
	"errors"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
)

var quietLogger = slog.New(slog.DiscardHandler)

// openTest opens a store on fs (a fresh vfs.NewMem when nil) and closes it at
// the end of the test.
func openTest(t testing.TB, fs vfs.FS) *DB {
	t.Helper()
	if fs == nil {
		fs = vfs.NewMem()
	}
	db, err := Open(&Options{FS: fs, Logger: quietLogger})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil && !errors.Is(err, ErrClosed) {
			t.Errorf("Close: %v", err)
		}
	})
	return db
}

func TestOpenOptions(t *testing.T) {
	tests := []struct {
		name string
		opts *Options
		want string // substring of the error; "" for success
	}{
		{name: "Nil", opts: nil, want: "needs Options"},
		{name: "NoDirNoFS", opts: &Options{}, want: "Dir is empty"},
		{name: "MemFSNoDir", opts: &Options{FS: vfs.NewMem()}},
		{name: "MemFSWithDir", opts: &Options{FS: vfs.NewMem(), Dir: "/data/ignis"}},
		{name: "WeakIterations", opts: &Options{FS: vfs.NewMem(), ScramIterations: 1000}, want: "ScramIterations"},
		{name: "TinyCache", opts: &Options{FS: vfs.NewMem(), CacheSize: 1 << 10}, want: "CacheSize"},
		{name: "NegativeQueue", opts: &Options{FS: vfs.NewMem(), CommitQueue: -1}, want: "CommitQueue"},
		{name: "TinyGroup", opts: &Options{FS: vfs.NewMem(), MaxGroupBytes: 100}, want: "MaxGroupBytes"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.opts != nil {
				tc.opts.Logger = quietLogger
			}
			db, err := Open(tc.opts)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("Open: %v", err)
				}
				if err := db.Close(); err != nil {
					t.Fatalf("Close: %v", err)
				}
				return
			}
			if err == nil {
				db.Close()
				t.Fatalf("Open succeeded; want error containing %q", tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Open error %q; want it to contain %q", err, tc.want)
			}
		})
	}
}

func TestOpenPutsPebbleInDBSubfolder(t *testing.T) {
	fs := vfs.NewMem()
	db, err := Open(&Options{FS: fs, Dir: "/data", Logger: quietLogger})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := fs.Stat("/data/db/LOCK"); err != nil {
		t.Fatalf("no LOCK in /data/db: %v", err)
	}
}

func TestCloseTwice(t *testing.T) {
	db, err := Open(&Options{FS: vfs.NewMem(), Logger: quietLogger})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); !errors.Is(err, ErrClosed) {
		t.Fatalf("second Close: %v; want ErrClosed", err)
	}
}

func TestOpenLocked(t *testing.T) {
	t.Run("fs=mem", func(t *testing.T) {
		fs := vfs.NewMem()
		openTest(t, fs)
		_, err := Open(&Options{FS: fs, Logger: quietLogger})
		if !errors.Is(err, ErrLocked) {
			t.Fatalf("second Open: %v; want ErrLocked", err)
		}
	})
	t.Run("fs=os", func(t *testing.T) {
		dir := t.TempDir()
		db, err := Open(&Options{Dir: dir, Logger: quietLogger})
		if err != nil {
			t.Fatal(err)
		}
		_, err = Open(&Options{Dir: dir, Logger: quietLogger})
		if !errors.Is(err, ErrLocked) {
			t.Fatalf("second Open: %v; want ErrLocked", err)
		}
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
		db, err = Open(&Options{Dir: dir, Logger: quietLogger})
		if err != nil {
			t.Fatalf("Open after Close: %v", err)
		}
		db.Close()
	})
}

const lockHelperEnv = "IGNIS_STORE_LOCK_HELPER_DIR"

// TestOpenLockedOtherProcess is the CLI's case: the server process holds the
// data folder (an fcntl lock, not Pebble's in-process table).
func TestOpenLockedOtherProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a process")
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestLockHelperProcess$")
	cmd.Env = append(os.Environ(), lockHelperEnv+"="+dir)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	defer stdin.Close()
	sc := bufio.NewScanner(stdout)
	for sc.Scan() && sc.Text() != "ready" {
	}
	if sc.Text() != "ready" {
		t.Fatalf("helper did not get ready: %v", sc.Err())
	}

	_, err = Open(&Options{Dir: dir, Logger: quietLogger})
	if !errors.Is(err, ErrLocked) {
		t.Fatalf("Open while another process holds it: %v; want ErrLocked", err)
	}

	stdin.Close()
	go io.Copy(io.Discard, stdout)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("helper: %v", err)
	}
	db, err := Open(&Options{Dir: dir, Logger: quietLogger})
	if err != nil {
		t.Fatalf("Open after the helper exited: %v", err)
	}
	db.Close()
}

// TestLockHelperProcess holds a store open until its stdin closes. It runs
// only as TestOpenLockedOtherProcess's child.
func TestLockHelperProcess(t *testing.T) {
	dir := os.Getenv(lockHelperEnv)
	if dir == "" {
		t.Skip("helper process for TestOpenLockedOtherProcess")
	}
	db, err := Open(&Options{Dir: dir, Logger: quietLogger})
	if err != nil {
		t.Fatal(err)
	}
	os.Stdout.WriteString("ready\n")
	io.Copy(io.Discard, os.Stdin)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestOpenRefusesNewerFormat(t *testing.T) {
	fs := vfs.NewMem()
	db, err := Open(&Options{FS: fs, Logger: quietLogger})
	if err != nil {
		t.Fatal(err)
	}
	b := db.NewBatch()
	if err := b.Set(metaFormatKey, []byte{formatVersion + 1}, nil); err != nil {
		t.Fatal(err)
	}
	if err := db.Commit(b); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if _, err := Open(&Options{FS: fs, Logger: quietLogger}); err == nil || !strings.Contains(err.Error(), "format 2") {
		t.Fatalf("Open of a newer store: %v; want a format error", err)
	}
	// The failed Open released the folder.
	b2, err := Open(&Options{FS: fs, Logger: quietLogger})
	if err == nil {
		b2.Close()
		t.Fatal("Open succeeded the second time")
	}
	if errors.Is(err, ErrLocked) {
		t.Fatalf("failed Open left the folder locked: %v", err)
	}
}
