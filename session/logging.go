package session

import (
	"log/slog"
	"sync"

	"github.com/go-logr/logr"
	"github.com/livekit/protocol/logger"
	"github.com/livekit/protocol/logger/pionlogger"
	"github.com/pion/logging"
)

// The LiveKit libraries (server-sdk-go, and livekit-server when embedded)
// log through protocol/logger's process-wide logger; pion logs through the
// LoggerFactory of each SettingEngine and defaults to stderr. Both would
// corrupt the TUI, so everything goes to the caller's slog.Logger.

var routeMu sync.Mutex

// RouteLibraryLogs sends the LiveKit libraries' logs to l (a nil l
// discards them). It is process-wide: the last call wins.
func RouteLibraryLogs(l *slog.Logger) {
	routeMu.Lock()
	defer routeMu.Unlock()
	logger.SetLogger(protocolLogger(l), "livekit")
}

func protocolLogger(l *slog.Logger) logger.Logger {
	if l == nil {
		return logger.GetDiscardLogger()
	}
	return logger.LogRLogger(logr.FromSlogHandler(l.Handler()))
}

// pionLoggerFactory routes a PeerConnection's logs to l.
func pionLoggerFactory(l *slog.Logger) logging.LoggerFactory {
	return pionlogger.NewLoggerFactory(protocolLogger(l))
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }
