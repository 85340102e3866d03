// Package session connects dttui to a real LiveKit room: one
// participant's connection (package rtc: the signal websocket, the pion
// PeerConnections, the `_data_track` channel and its flow control),
// reconnects, and the outgoing manager wired to it. An optional loopback
// subscriber joins as a second participant to show what really arrives;
// the room monitor measures everyone else's data tracks.
//
// Files:
//   - the session: session.go (lifecycle and status), types.go (Config),
//     defaults.go, transport.go (the manager's requests and the SFU's
//     answers), local.go (our tracks and their probes), close.go,
//     reconnect.go (resume, rejoin, giving up), stall.go, rooms.go
//     (listing rooms), clock.go (the clock exchange over `_reliable`),
//     token.go;
//   - the receiving side: subscriber.go and inbox.go (one participant's
//     view of the room), loopback.go, monitor.go (the room monitor),
//     typed.go and schemacheck.go (typed tracks and their schemas);
//   - logging.go: the LiveKit libraries' process-wide loggers and
//     go-redis's routed to ours.
//
// Redaction (package redact), log origins (logorigin) and the reader of
// the embedded SFU's log (localsfu/sfulog) live outside, so the UI can use
// them without pion and sfulog without the session.
package session

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dttui/dttui/clocksync"
	"github.com/dttui/dttui/e2ee"
	"github.com/dttui/dttui/outgoing"
	"github.com/dttui/dttui/redact"
	"github.com/dttui/dttui/report"
	"github.com/dttui/dttui/session/rtc"
)

// ErrClosed is the Status.Err of a session its owner closed.
var ErrClosed = errors.New("session closed")

// ErrNoRelay: Config.RelayOnly, and the SFU lists no TURN server.
var ErrNoRelay = rtc.ErrNoRelay

// The connection's errors a session's own carry (errors.As).
type (
	// RefusedError is the server refusing a join over HTTP.
	RefusedError = rtc.RefusedError
	// LeaveError is the SFU ending the session.
	LeaveError = rtc.LeaveError
)

// Session is a live connection with its outgoing data-track manager.
type Session struct {
	cfg Config
	log *slog.Logger
	now func() time.Time // Config.Clock
	// clocks runs the clock exchange with the room's publishers (nil
	// without the monitor: nothing of theirs is measured).
	clocks *clocksync.Syncer
	mgr    *outgoing.Manager
	e2ee   *e2ee.Key // nil without a passphrase

	mu           sync.Mutex
	p            *rtc.Conn // nil while reconnecting
	status       Status
	statusCh     chan Status // capacity 1, latest wins
	statusClosed bool
	loop         *loopback
	monitor      *subscriber // the room monitor; nil when Config.Monitor is off
	// loopIdentity is the loopback participant's identity (whether or not
	// it runs): not part of the room the monitor shows.
	loopIdentity string
	// locals and streams hold every local track's state, by handle and by
	// probe stream, from StartPublish to the end of the session.
	locals  map[uint16]*localState
	streams map[uint32]*localState

	rec *report.Recorder
	// localDrops counts what pion dropped unread, every connection
	// together (Status.LocalDrops).
	localDrops atomic.Uint64
	// stall follows the publisher's data channel.
	stall stallWatch
	// remoteSampled is the sampler's last sample of the remote tracks,
	// remoteSampledAll its last of every one (sampleRemote).
	remoteSampled, remoteSampledAll time.Time
	blobs                           blobRequests
	// remoteSchemas caches the room's schema definitions, fetched once.
	remoteSchemas remoteSchemas
	probes        remoteProbes
	checks        remoteChecks

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	closeOnce sync.Once
	// unpubAcks are closed when the SFU answers an unpublish Close sent.
	unpubAcks map[uint16]chan struct{}
}

// Connect joins the room and returns once the data channel is open, or an
// error within Config.ConnectTimeout. Everything this connection logs (the
// session, the SDK's signalling, pion) goes to Config.Logger with tokens and
// the secret redacted. The libraries' process-wide loggers are not touched
// here (writing them races with an embedded server that logs): call
// RouteLibraryLogs once at start-up.
func Connect(ctx context.Context, cfg Config) (*Session, error) {
	if cfg.URL == "" {
		return nil, errors.New("session: no server URL")
	}
	// Redacting a nil logger discards.
	cfg.Logger = redact.Logger(cfg.Logger, cfg.APISecret, cfg.Token, cfg.E2EEPassphrase)
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	if cfg.ConnectTimeout <= 0 {
		cfg.ConnectTimeout = 10 * time.Second
	}
	if cfg.ReconnectTimeout <= 0 {
		cfg.ReconnectTimeout = DefaultReconnectTimeout
	}
	if cfg.Token == "" {
		if cfg.APIKey == "" || cfg.APISecret == "" {
			return nil, errors.New("session: need a token, or an API key and secret")
		}
		if cfg.Room == "" {
			cfg.Room = "dttui-" + randomSuffix()
		}
		if cfg.Identity == "" {
			cfg.Identity = "dttui-" + randomSuffix()
		}
	} else if cfg.Identity == "" {
		cfg.Identity = identityFromToken(cfg.Token)
	}
	var key *e2ee.Key
	if cfg.E2EEPassphrase != "" {
		var err error
		if key, err = e2ee.NewKey(cfg.E2EEPassphrase); err != nil {
			return nil, err
		}
	}

	s := &Session{cfg: cfg, log: cfg.Logger, e2ee: key, statusCh: make(chan Status, 1),
		locals: map[uint16]*localState{}, streams: map[uint32]*localState{}, rec: report.NewRecorder(0)}
	s.now = cfg.Clock
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.mgr = outgoing.NewManager(s, outgoing.Options{
		Now:            cfg.Clock,
		PublishTimeout: cfg.PublishTimeout,
		MaxQueuedBytes: cfg.MaxQueuedBytes,
		MaxFrameAge:    cfg.MaxFrameAge,
		E2EE:           key,
		Logger:         cfg.Logger.With("component", "outgoing"),
	})
	s.setStatus(StateConnecting, nil)
	s.loopIdentity = cfg.Identity + "-loopback"
	if cfg.Monitor {
		s.clocks = clocksync.New(clocksync.Options{})
		s.monitor = s.newMonitor()
	}

	p, err := s.connect(ctx)
	if err != nil {
		s.setStatus(StateDisconnected, err)
		s.mgr.Close()
		if s.monitor != nil {
			s.monitor.close()
		}
		s.cancel()
		return nil, err
	}
	s.mu.Lock()
	s.p = p
	s.mu.Unlock()
	s.setConnected(p, false)
	s.wg.Add(1)
	go s.supervise(p)
	if s.clocks != nil {
		s.wg.Add(1)
		go s.runClockSync()
	}

	if cfg.Loopback {
		lb, err := startLoopback(ctx, s)
		if err != nil {
			// The publisher works without it; say why the receive columns are empty.
			s.log.Warn("loopback subscriber unavailable", "err", err)
		} else {
			s.loop = lb
		}
	}
	// After s.loop is set: the sampler reads it without a lock, as the
	// publisher's writers do (loopReceived), which run only for tracks
	// published once Connect has returned.
	s.wg.Add(1)
	go s.runSampler()
	return s, nil
}

// connect joins as the publisher: a fresh participant, fresh PeerConnections.
func (s *Session) connect(ctx context.Context) (*rtc.Conn, error) {
	token, err := s.token()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.ConnectTimeout)
	defer cancel()
	pc := rtc.Config{
		URL: s.cfg.URL, Token: token, Log: s.cfg.Logger.With("participant", "publisher"),
		Publisher: true, OnSignal: s.onSignal, OnUserPacket: s.onUserPacket, Resumable: true, Net: s.network(), RelayOnly: s.cfg.RelayOnly,
		LocalDrops: &s.localDrops, Received: s.loopReceived,
	}
	if s.monitor != nil {
		pc.OnDataTrackPacket, pc.OnDataTrackOpen = s.monitor.onPacket, s.monitor.onDataChannelOpen
	}
	return rtc.Dial(ctx, pc)
}

func (s *Session) token() (string, error) {
	if s.cfg.Token != "" {
		return s.cfg.Token, nil
	}
	return mintToken(s.cfg.APIKey, s.cfg.APISecret, s.cfg.Room, s.cfg.Identity, true, false)
}

// Manager is the session's outgoing data-track manager.
func (s *Session) Manager() *outgoing.Manager { return s.mgr }

// network is what our own connection runs on: Config.Net and the user's
// impairment.
func (s *Session) network() rtc.Network {
	return rtc.Network{NetOptions: s.cfg.Net, Impair: s.cfg.Impair}
}

// Status is the connection's current health, with the latest RTT.
func (s *Session) Status() Status {
	s.mu.Lock()
	st, p := s.status, s.p
	s.mu.Unlock()
	if p != nil {
		// Outside s.mu: pion's locks are taken here, and pion calls
		// into the session with its own held.
		st.RTT = p.RTT()
		st.Sender = p.Sender()
	}
	st.LocalDrops = s.localDrops.Load()
	if sh := s.cfg.Impair; sh != nil {
		st.Impair.Spec, st.Impair.Since = sh.Spec()
		st.Impair.Counts = sh.Counts()
	}
	return st
}

// Stalls counts the times the connection stalled (its data channel held
// unsent bytes and made no progress for StallAfter), as the session's
// sampler saw them; the count Report puts in Snapshot.Stalls.
func (s *Session) Stalls() int { return s.rec.Stalls() }

// StatusChanges delivers the status after each state change. Only the
// latest undelivered one is kept, so a slow reader never blocks the
// session and never sees a stale state last. The channel is closed once
// Close has delivered the final Disconnected status.
func (s *Session) StatusChanges() <-chan Status { return s.statusCh }

// streamState is the local track whose frames carry probe stream id, or nil.
func (s *Session) streamState(id uint32) *localState {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.streams[id]
}

// setStatus moves the connection to st, with why (err).
func (s *Session) setStatus(st State, err error) { s.changeStatus(nil, st, err) }

// setStatusIf moves the status to st only if it is still in from, in one
// step under the lock: the stall watch must not overwrite a reconnect that
// began meanwhile.
func (s *Session) setStatusIf(from, st State, err error) { s.changeStatus(&from, st, err) }

func (s *Session) changeStatus(from *State, st State, err error) {
	s.mu.Lock()
	if from != nil && s.status.State != *from {
		s.mu.Unlock()
		return
	}
	s.status.State, s.status.Err, s.status.Since = st, err, time.Now()
	s.status.URL, s.status.Credentials = redact.URL(s.cfg.URL), s.cfg.Credentials
	if s.status.Identity == "" {
		s.status.Identity = s.cfg.Identity
	}
	if s.status.Room == "" {
		s.status.Room = s.cfg.Room
	}
	snap := s.status
	if s.p != nil {
		snap.RTT = s.p.RTT()
	}
	if !s.statusClosed {
		// Latest wins: replace an undelivered status rather than block.
		select {
		case <-s.statusCh:
		default:
		}
		s.statusCh <- snap
	}
	s.mu.Unlock()
	if err != nil {
		s.log.Info("connection "+st.String(), "err", err)
	} else {
		s.log.Info("connection " + st.String())
	}
}

func (s *Session) setConnected(p *rtc.Conn, reconnected bool) {
	j := p.JoinResponse()
	s.mu.Lock()
	s.status.ParticipantSID = j.GetParticipant().GetSid()
	s.status.Identity = j.GetParticipant().GetIdentity()
	s.status.Room = j.GetRoom().GetName()
	if reconnected {
		s.status.Reconnects++
	}
	s.mu.Unlock()
	s.setStatus(StateConnected, nil)
}

// Close stops the tracks (frames still queued are dropped as closed before
// sent: flush first to send them), lets what was sent reach the SFU (for up
// to CloseDrainTimeout), unpublishes every track and waits for the SFU to
// confirm (up to CloseUnpublishTimeout), leaves the room, closes the
// PeerConnections and stops every goroutine. It is idempotent and always
// returns nil: there is nothing a caller could do about a failed goodbye.
func (s *Session) Close() error {
	s.closeOnce.Do(func() {
		s.goodbye()
		s.cancel()
		// After this, supervise is gone and s.p is the last peer it made.
		s.wg.Wait()
		if s.monitor != nil {
			s.monitor.close()
		}
		if s.loop != nil {
			s.loop.close()
			// Nothing more can arrive: what is still missing is lost.
			for _, st := range s.localStates() {
				st.settle()
			}
		}
		s.mu.Lock()
		p := s.p
		s.mu.Unlock()
		if p != nil {
			p.Leave()
		}
		// A session that already gave up keeps its reason.
		if s.Status().State != StateDisconnected {
			s.setStatus(StateDisconnected, ErrClosed)
		}
		s.mu.Lock()
		s.statusClosed = true
		close(s.statusCh)
		s.mu.Unlock()
	})
	return nil
}
