package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/bloom"
	"github.com/cockroachdb/pebble/v2/vfs"

	"ignis/scram"
)

// Options configures Open. Zero fields take the defaults set in ensureDefaults;
// validate checks the bounds.
type Options struct {
	// Dir is the server's data folder. Pebble's files live in its subfolder
	// "db", which Open creates; the rest of Dir belongs to other parts of the
	// server (certificates). Required unless FS is set.
	Dir string

	// FS is the file system. Nil means the operating system's; tests use
	// vfs.NewMem or vfs.NewCrashableMem, and then Dir may be empty.
	FS vfs.FS

	// CacheSize is the block cache, in bytes. Default 64 MiB.
	CacheSize int64

	// MemTableSize is the size of one memtable, in bytes. Default 16 MiB;
	// up to MemTableStopWritesThreshold (4) of them may be queued for
	// flushing, so budget 4× this.
	MemTableSize uint64

	// ScramIterations is the PBKDF2 iteration count for new and changed
	// passwords. Default scram.DefaultIterations; below 4096 is rejected
	// (RFC 7677 §4).
	ScramIterations int

	// CommitQueue is how many batches may wait for the writer goroutine before
	// Commit and CommitAsync block. Default 1024.
	CommitQueue int

	// MaxGroupBatches caps how many queued batches the writer merges into one
	// synced commit. Default 128.
	MaxGroupBatches int

	// MaxGroupBytes caps the size of one merged commit; a single batch larger
	// than this is committed on its own. Default 4 MiB.
	MaxGroupBytes int

	// Logger receives Pebble's messages: informational ones at debug level,
	// errors at error level. Nil means slog.Default().
	Logger *slog.Logger
}

func (o *Options) ensureDefaults() {
	if o.FS == nil {
		o.FS = vfs.Default
	}
	if o.CacheSize == 0 {
		o.CacheSize = 64 << 20
	}
	if o.MemTableSize == 0 {
		o.MemTableSize = 16 << 20
	}
	if o.ScramIterations == 0 {
		o.ScramIterations = scram.DefaultIterations
	}
	if o.CommitQueue == 0 {
		o.CommitQueue = 1024
	}
	if o.MaxGroupBatches == 0 {
		o.MaxGroupBatches = 128
	}
	if o.MaxGroupBytes == 0 {
		o.MaxGroupBytes = 4 << 20
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
}

// validate runs after ensureDefaults.
func (o *Options) validate() error {
	switch {
	case o.CacheSize < 1<<20:
		return fmt.Errorf("store: CacheSize %d is below 1 MiB", o.CacheSize)
	case o.MemTableSize < 1<<20 || o.MemTableSize > 1<<30:
		return fmt.Errorf("store: MemTableSize %d is outside [1 MiB, 1 GiB]", o.MemTableSize)
	case o.ScramIterations < 4096:
		return fmt.Errorf("store: ScramIterations %d is below 4096", o.ScramIterations)
	case o.CommitQueue < 1:
		return fmt.Errorf("store: CommitQueue %d is below 1", o.CommitQueue)
	case o.MaxGroupBatches < 1:
		return fmt.Errorf("store: MaxGroupBatches %d is below 1", o.MaxGroupBatches)
	case o.MaxGroupBytes < 4<<10:
		return fmt.Errorf("store: MaxGroupBytes %d is below 4 KiB", o.MaxGroupBytes)
	}
	return nil
}

// pebbleOptions are Pebble's settings for a small box (TECH-NOTES §4.2).
func (o *Options) pebbleOptions(cache *pebble.Cache, lock *pebble.Lock) *pebble.Options {
	po := &pebble.Options{
		FS:                          o.FS,
		Cache:                       cache,
		Lock:                        lock,
		MemTableSize:                o.MemTableSize,
		MemTableStopWritesThreshold: 4,
		// Two cores: one compaction normally, a second only when Pebble
		// judges it is falling behind.
		CompactionConcurrencyRange: func() (int, int) { return 1, 2 },
		FormatMajorVersion:         pebble.FormatNewest,
		Logger:                     pebbleLogger{o.Logger.With("component", "pebble")},
	}
	// Bloom filters make Get of an absent key (registration, login of an
	// unknown user) skip tables. Levels inherit L0's policy but set each one
	// explicitly so it does not depend on that rule.
	for i := range po.Levels {
		po.Levels[i].FilterPolicy = bloom.FilterPolicy(10)
	}
	return po
}

// pebbleLogger adapts slog to Pebble's Logger. Pebble logs routine events
// (flushes, WAL recovery) through Infof, so those go to debug.
type pebbleLogger struct{ l *slog.Logger }

func (p pebbleLogger) Infof(format string, args ...any) {
	if p.l.Enabled(context.Background(), slog.LevelDebug) {
		p.l.Debug(fmt.Sprintf(format, args...))
	}
}

func (p pebbleLogger) Errorf(format string, args ...any) {
	p.l.Error(fmt.Sprintf(format, args...))
}

// Fatalf must not return: Pebble calls it on invariants it cannot recover from
// (corruption). Panicking keeps the stack in the crash report.
func (p pebbleLogger) Fatalf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	p.l.Error(msg, "fatal", true)
	panic(errors.New("pebble: " + msg))
}
