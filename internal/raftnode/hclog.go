package raftnode

import (
	"context"
	"io"
	"log"
	"log/slog"
	"sync/atomic"

	"github.com/hashicorp/go-hclog"
)

// slogHCLog adapts a *slog.Logger to hclog.Logger, the one boundary where
// hashicorp/raft and raft-wal log. Trace maps to slog.LevelDebug-4.
type slogHCLog struct {
	l       *slog.Logger // base with the "logger" name attribute
	base    *slog.Logger // with implied args, without the name
	name    string
	implied []any
	level   *atomic.Int32 // hclog.Level; NoLevel defers to the slog handler
}

var _ hclog.Logger = (*slogHCLog)(nil)

func NewHCLog(l *slog.Logger, name string) hclog.Logger {
	return &slogHCLog{l: l.With("logger", name), base: l, name: name, level: new(atomic.Int32)}
}

func slogLevel(level hclog.Level) slog.Level {
	switch level {
	case hclog.Trace:
		return slog.LevelDebug - 4
	case hclog.Debug:
		return slog.LevelDebug
	case hclog.Warn:
		return slog.LevelWarn
	case hclog.Error:
		return slog.LevelError
	default:
		return slog.LevelInfo
	}
}

func (h *slogHCLog) enabled(level hclog.Level) bool {
	if min := hclog.Level(h.level.Load()); min != hclog.NoLevel && level < min {
		return false
	}
	return h.l.Enabled(context.Background(), slogLevel(level))
}

// Log implements hclog.Logger.
func (h *slogHCLog) Log(level hclog.Level, msg string, args ...any) {
	if level == hclog.Off || !h.enabled(level) {
		return
	}
	h.l.Log(context.Background(), slogLevel(level), msg, args...)
}

// Trace implements hclog.Logger.
func (h *slogHCLog) Trace(msg string, args ...any) { h.Log(hclog.Trace, msg, args...) }

// Debug implements hclog.Logger.
func (h *slogHCLog) Debug(msg string, args ...any) { h.Log(hclog.Debug, msg, args...) }

// Info implements hclog.Logger.
func (h *slogHCLog) Info(msg string, args ...any) { h.Log(hclog.Info, msg, args...) }

// Warn implements hclog.Logger.
func (h *slogHCLog) Warn(msg string, args ...any) { h.Log(hclog.Warn, msg, args...) }

// Error implements hclog.Logger.
func (h *slogHCLog) Error(msg string, args ...any) { h.Log(hclog.Error, msg, args...) }

// IsTrace implements hclog.Logger.
func (h *slogHCLog) IsTrace() bool { return h.enabled(hclog.Trace) }

// IsDebug implements hclog.Logger.
func (h *slogHCLog) IsDebug() bool { return h.enabled(hclog.Debug) }

// IsInfo implements hclog.Logger.
func (h *slogHCLog) IsInfo() bool { return h.enabled(hclog.Info) }

// IsWarn implements hclog.Logger.
func (h *slogHCLog) IsWarn() bool { return h.enabled(hclog.Warn) }

// IsError implements hclog.Logger.
func (h *slogHCLog) IsError() bool { return h.enabled(hclog.Error) }

// ImpliedArgs implements hclog.Logger.
func (h *slogHCLog) ImpliedArgs() []any { return h.implied }

// With implements hclog.Logger.
func (h *slogHCLog) With(args ...any) hclog.Logger {
	c := *h
	c.l = h.l.With(args...)
	c.base = h.base.With(args...)
	c.implied = append(append([]any(nil), h.implied...), args...)
	return &c
}

// Name implements hclog.Logger.
func (h *slogHCLog) Name() string { return h.name }

// Named implements hclog.Logger.
func (h *slogHCLog) Named(name string) hclog.Logger {
	if h.name != "" {
		name = h.name + "." + name
	}
	return h.ResetNamed(name)
}

// ResetNamed implements hclog.Logger.
func (h *slogHCLog) ResetNamed(name string) hclog.Logger {
	c := *h
	c.name = name
	c.l = h.base.With("logger", name)
	return &c
}

// SetLevel implements hclog.Logger; it filters on top of the slog handler.
func (h *slogHCLog) SetLevel(level hclog.Level) { h.level.Store(int32(level)) }

// GetLevel implements hclog.Logger.
func (h *slogHCLog) GetLevel() hclog.Level {
	if lv := hclog.Level(h.level.Load()); lv != hclog.NoLevel {
		return lv
	}
	for _, lv := range []hclog.Level{hclog.Trace, hclog.Debug, hclog.Info, hclog.Warn, hclog.Error} {
		if h.enabled(lv) {
			return lv
		}
	}
	return hclog.Off
}

// StandardLogger implements hclog.Logger.
func (h *slogHCLog) StandardLogger(*hclog.StandardLoggerOptions) *log.Logger {
	return slog.NewLogLogger(h.l.Handler(), slog.LevelInfo)
}

// StandardWriter implements hclog.Logger.
func (h *slogHCLog) StandardWriter(opts *hclog.StandardLoggerOptions) io.Writer {
	return h.StandardLogger(opts).Writer()
}
