// Package metrics serves the session's report as Prometheus metrics, so
// a long soak can be watched from Grafana. Every scrape renders the
// report as it is then: the same figures the UI and the JSON lines show,
// from the same producer. Names and labels are stable; docs/metrics.md lists them.
package metrics

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"golang.org/x/net/netutil"

	"github.com/dttui/dttui/clocksync"
	"github.com/dttui/dttui/histogram"
	"github.com/dttui/dttui/incoming"
	"github.com/dttui/dttui/outgoing"
	"github.com/dttui/dttui/report"
	"github.com/dttui/dttui/textsafe"
)

// Namespace prefixes every metric.
const Namespace = "dttui"

// LatencyBuckets are the latency histograms' upper bounds, in seconds.
var LatencyBuckets = []float64{0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10}

var (
	localLabels  = []string{"track", "handle"}
	remoteLabels = []string{"track", "sid", "publisher"}
)

func desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc(Namespace+"_"+name, help, labels, nil)
}

// The metrics, one Desc each.
var (
	connState      = desc("connection_state", "1 for the connection's current state (connecting, connected, stalled, reconnecting, disconnected).", "state")
	connRTT        = desc("connection_rtt_seconds", "Signal round-trip time.")
	connReconnects = desc("connection_reconnects_total", "Completed reconnects (resume or full rejoin).")
	connLocalDrops = desc("connection_local_drops_total", "Datagrams dttui's WebRTC stack received and dropped unread (its buffer before DTLS was full): lost in dttui, not on the path.")
	queuedBytes    = desc("queued_bytes", "Payload bytes queued for sending over all local tracks.")

	// The publisher's data-channel sender (report.Sender).
	sndWindow   = desc("sender_window_bytes", "Bytes the data channel may hold unacknowledged (flow control).")
	sndInFlight = desc("sender_in_flight_bytes", "Bytes the data channel holds: sent and unacknowledged, or not yet sent.")
	sndDelivery = desc("sender_delivery_bytes_per_second", "Highest rate the SFU acknowledged in the last second.")
	sndPathRTT  = desc("sender_path_rtt_seconds", "Least ICE round-trip time of the last 10 s.")
	sndSCTPRTT  = desc("sender_sctp_rtt_seconds", "SCTP's smoothed round-trip time.")
	sndCwnd     = desc("sender_sctp_cwnd_bytes", "SCTP's congestion window.")
	sndWaits    = desc("sender_waits_total", "Writes that waited, by what they waited for (window, pace).", "for")
	sndLimit    = desc("sender_limit_bytes_per_second", "The congestion limit writes are held to (0: none), set when the loopback lost packets behind a queue on the path.")
	sndBackoffs = desc("sender_backoffs_total", "Times the congestion limit was lowered.")

	pushed      = desc("frames_pushed_total", "Frames pushed to the local track.", localLabels...)
	sent        = desc("frames_sent_total", "Frames whose every packet was handed to the data channel.", localLabels...)
	packetsSent = desc("packets_sent_total", "Packets handed to the data channel.", localLabels...)
	bytesSent   = desc("bytes_sent_total", "Bytes handed to the data channel, headers included.", localLabels...)
	dropped     = desc("frames_dropped_total", "Frames not sent, by reason.", append(localLabels, "reason")...)
	queued      = desc("frames_queued", "Frames accepted and not yet sent or dropped.", localLabels...)
	published   = desc("track_published", "1 while the local track is published.", localLabels...)
	received    = desc("frames_received_total", "Followed frames the loopback subscriber received.", localLabels...)
	lost        = desc("frames_lost_total", "Followed frames not received within the grace period.", localLabels...)
	inGrace     = desc("frames_in_grace", "Followed frames sent, not yet received, grace not over.", localLabels...)
	unfollowed  = desc("frames_unfollowed_total", "Frames sent while the loopback held no subscription to the track.", localLabels...)
	duplicates  = desc("frames_duplicate_total", "Further copies of frames already received.", localLabels...)
	corrupt     = desc("frames_corrupt_total", "Frames whose bytes or user timestamp differ from what was sent.", localLabels...)
	latency     = desc("latency_seconds", "Push-to-arrival latency of frames the loopback received.", localLabels...)
	mismatches  = desc("schema_mismatches_total", "Pushed frames that did not match the track's schema (sent, or dropped with reason schema mismatch).", localLabels...)

	rFrames     = desc("remote_frames_received_total", "Frames completed of another participant's track.", remoteLabels...)
	rBytes      = desc("remote_frame_bytes_total", "Payload bytes of completed frames (ciphertext for E2EE).", remoteLabels...)
	rPackets    = desc("remote_packets_received_total", "Packets received.", remoteLabels...)
	rPktLost    = desc("remote_packets_lost_total", "Packets lost, from the sequence numbers.", remoteLabels...)
	rFrLost     = desc("remote_frames_lost_total", "Frames that never arrived whole (no packet, or not all: incomplete counts those).", remoteLabels...)
	rIncomplete = desc("remote_frames_incomplete_total", "Frames given up with packets missing.", remoteLabels...)
	rCut        = desc("remote_frames_cut_total", "Frames a subscription's start or end cut (not loss).", remoteLabels...)
	sfuShed     = desc("sfu_shed_packets_total", "Packets the SFU shed toward the loopback (its log; embedded SFU only).", localLabels...)
	sfuUpLost   = desc("sfu_up_packets_lost_total", "Packets the SFU found missing from the publisher, logged when the track closed (embedded SFU only).", localLabels...)
	rSFUShed    = desc("remote_sfu_shed_packets_total", "Packets the SFU shed toward us (its log; embedded SFU only).", remoteLabels...)
	rDecrypt    = desc("remote_decrypt_failures_total", "E2EE frames that did not open.", remoteLabels...)
	rSubscribed = desc("remote_track_subscribed", "1 while subscribed.", remoteLabels...)
	rMismatches = desc("remote_schema_mismatches_total", "Frames that did not match the schema the track declares.", remoteLabels...)
	rChecked    = desc("remote_schema_checked_total", "Frames checked against the schema the track declares.", remoteLabels...)
	rLatency    = desc("remote_latency_seconds", "Arrival time minus the publisher's user timestamp: one-way while remote_clock_synced is 1, else two clocks.", remoteLabels...)
	rClockSync  = desc("remote_clock_synced", "1 when the publisher answered dttui's clock exchange: its latency is one-way, its offset taken out.", remoteLabels...)
	rClockBound = desc("remote_clock_uncertainty_seconds", "Bound on the error of the clock offset taken out of the latency (0 unless synced).", remoteLabels...)

	// The room monitor's memory budget (report.Snapshot.Memory).
	roomHeld         = desc("room_held_bytes", "Memory other participants' partial frames hold now.")
	roomHeldPeak     = desc("room_held_peak_bytes", "The most room_held_bytes was after any packet.")
	roomHeldBudget   = desc("room_held_budget_bytes", "The budget room_held_bytes is kept within (--max-held-bytes).")
	roomEvicted      = desc("room_evicted_frames_total", "Partial frames given up to keep within the budget, by reason (room budget, participant share, idle).", "reason")
	roomEvictedBytes = desc("room_evicted_bytes_total", "Bytes those evictions gave back, by reason.", "reason")
	roomRefused      = desc("room_tracks_refused", "Tracks published now that the monitor does not follow: past its track cap or a participant's share of it.")
	roomForgotten    = desc("room_tracks_forgotten_total", "Unpublished tracks whose rows the monitor forgot to keep at most "+strconv.Itoa(incoming.DefaultMaxUnpublished)+" of them.")
)

// What one scrape may cost, whatever the room holds: the other
// participants choose how many tracks they publish and how long their
// names are, and a scrape must not grow with them.
const (
	// MaxRemoteTracks is how many of the room's tracks a scrape exports
	// (about 30 series each); the rest are counted in
	// dttui_metrics_remote_tracks_dropped.
	MaxRemoteTracks = 200
	// MaxLabelRunes is the longest label value, in runes, escapes
	// counted (a longer one is cut, with "…"): names, identities, SIDs.
	MaxLabelRunes = 128
	// MaxScrapesInFlight is how many scrapes are rendered at once; more
	// are answered 503 at once.
	MaxScrapesInFlight = 2
	// MaxConnections is how many connections the server holds open; more
	// wait to be accepted.
	MaxConnections = 8
)

// remoteDropped says what MaxRemoteTracks left out.
var remoteDropped = desc("metrics_remote_tracks_dropped", "Room tracks left out of this scrape to keep it within its size (at most "+strconv.Itoa(MaxRemoteTracks)+" exported).")

// Collector renders a report on each scrape.
type Collector struct {
	src func() report.Snapshot
	// queued is the manager's queued bytes (nil: not exported).
	queued func() int64
	// maxRemote is MaxRemoteTracks.
	maxRemote int
}

// NewCollector returns a collector of the reports src produces; queued,
// if not nil, gives the session's queued bytes.
func NewCollector(src func() report.Snapshot, queued func() int64) *Collector {
	return &Collector{src: src, queued: queued, maxRemote: MaxRemoteTracks}
}

// label is outside text made a safe label value: escaped as the UI
// escapes it (no ESC or bidi override reaches a terminal that shows the
// scrape) and cut to MaxLabelRunes.
func label(s string) string { return textsafe.Clip(s, MaxLabelRunes) }

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{connState, connRTT, connReconnects, connLocalDrops, queuedBytes, pushed, sent, packetsSent, bytesSent,
		dropped, queued, published, received, lost, inGrace, unfollowed, duplicates, corrupt, latency, mismatches,
		rMismatches, rChecked, rFrames, rBytes, rPackets, rPktLost, rFrLost, rIncomplete, rCut, rDecrypt, rSubscribed, rLatency, rClockSync, rClockBound, sfuShed, sfuUpLost, rSFUShed,
		sndWindow, sndInFlight, sndDelivery, sndPathRTT, sndSCTPRTT, sndCwnd, sndWaits, sndLimit, sndBackoffs,
		roomHeld, roomHeldPeak, roomHeldBudget, roomEvicted, roomEvictedBytes, roomRefused, roomForgotten, remoteDropped} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	snap := c.src()
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	st := snap.Connection
	for s := report.Connecting; s <= report.Disconnected; s++ {
		gauge(connState, boolf(st.State == s), s.String())
	}
	gauge(connRTT, st.RTT.Seconds())
	counter(connReconnects, uint64(st.Reconnects))
	counter(connLocalDrops, st.LocalDrops)
	if sn := st.Sender; sn != (report.Sender{}) {
		gauge(sndWindow, float64(sn.Window))
		gauge(sndInFlight, float64(sn.InFlight))
		gauge(sndDelivery, sn.DeliveryRate)
		gauge(sndPathRTT, sn.PathRTT.Seconds())
		gauge(sndSCTPRTT, sn.SCTPRTT.Seconds())
		gauge(sndCwnd, float64(sn.CongestionWindow))
		counter(sndWaits, sn.WindowWaits, "window")
		counter(sndWaits, sn.PaceWaits, "pace")
		gauge(sndLimit, sn.Limit)
		counter(sndBackoffs, sn.Backoffs)
	}
	if c.queued != nil {
		gauge(queuedBytes, float64(c.queued()))
	}
	for _, l := range snap.Local {
		if l.State == outgoing.StatePending {
			continue
		}
		lv := []string{label(l.Name), strconv.Itoa(int(l.Handle))}
		o := l.Out
		counter(pushed, o.FramesPushed, lv...)
		counter(sent, o.FramesSent, lv...)
		counter(packetsSent, o.PacketsSent, lv...)
		counter(bytesSent, o.BytesSent, lv...)
		for r, n := range o.DroppedBy {
			counter(dropped, n, append(lv, outgoing.DropReason(r).String())...)
		}
		counter(mismatches, o.SchemaMismatches, lv...)
		gauge(queued, float64(o.FramesQueued), lv...)
		gauge(published, boolf(l.State == outgoing.StatePublished), lv...)
		if o := l.SFU; o != nil {
			counter(sfuShed, o.Shed, lv...)
			if o.Up != nil {
				counter(sfuUpLost, o.Up.PacketsLost, lv...)
			}
		}
		if rx := l.Rx; rx != nil {
			counter(received, rx.Frames, lv...)
			counter(lost, rx.Lost, lv...)
			gauge(inGrace, float64(rx.InGrace), lv...)
			counter(unfollowed, rx.Unfollowed, lv...)
			counter(duplicates, rx.Duplicates, lv...)
			counter(corrupt, rx.Corrupt, lv...)
			if l.RunLatencyHist != nil {
				ch <- histogramMetric(latency, l.RunLatencyHist, lv)
			}
		}
	}
	if m := &snap.Memory; m.Budget > 0 {
		gauge(roomHeld, float64(m.Bytes))
		gauge(roomHeldPeak, float64(m.Peak))
		gauge(roomHeldBudget, float64(m.Budget))
		gauge(roomRefused, float64(m.TracksRefused))
		counter(roomForgotten, m.TracksForgotten)
		for r := range incoming.NumEvictReasons {
			counter(roomEvicted, m.Evicted[r], r.String())
			counter(roomEvictedBytes, m.EvictedBytes[r], r.String())
		}
	}
	gauge(remoteDropped, float64(max(0, len(snap.Remote)-c.maxRemote)))
	for i, r := range snap.Remote {
		if i >= c.maxRemote {
			break
		}
		s := r.Stats
		rv := []string{label(s.Name), label(s.SID), label(s.PublisherIdentity)}
		counter(rFrames, s.FramesCompleted, rv...)
		counter(rBytes, s.FrameBytes, rv...)
		counter(rPackets, s.Packets, rv...)
		counter(rPktLost, s.PacketsLost, rv...)
		counter(rFrLost, s.LostFrames(), rv...)
		counter(rIncomplete, s.FramesIncomplete, rv...)
		counter(rCut, s.FramesCut, rv...)
		if r.SFU != nil {
			counter(rSFUShed, r.SFU.Shed, rv...)
		}
		counter(rDecrypt, s.DecryptFailuresTotal(), rv...)
		counter(rChecked, r.Schema.Checked, rv...)
		counter(rMismatches, r.Schema.Mismatches, rv...)
		gauge(rSubscribed, boolf(s.Handle != 0), rv...)
		ch <- histogramMetric(rLatency, &s.Latency, rv)
		synced := s.Clock.State == clocksync.Synced
		gauge(rClockSync, boolf(synced), rv...)
		gauge(rClockBound, boolf(synced)*s.Clock.Uncertainty.Seconds(), rv...)
	}
}

// scrapeTimeout bounds one scrape's rendering and reading.
const scrapeTimeout = 10 * time.Second

func boolf(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// histogramMetric turns a histogram of nanoseconds into Prometheus's
// cumulative buckets: each bucket of h counts under the first bound at
// or above its middle.
func histogramMetric(d *prometheus.Desc, h *histogram.Histogram, labels []string) prometheus.Metric {
	buckets := make(map[float64]uint64, len(LatencyBuckets))
	counts := make([]uint64, len(LatencyBuckets))
	h.ForEach(func(lo, hi int64, n uint64) {
		mid := time.Duration((lo + hi) / 2).Seconds()
		for i, b := range LatencyBuckets {
			if mid <= b {
				counts[i] += n
				break
			}
		}
	})
	var cum uint64
	for i, b := range LatencyBuckets {
		cum += counts[i]
		buckets[b] = cum
	}
	sum := time.Duration(h.Sum()).Seconds()
	return prometheus.MustNewConstHistogram(d, h.Count(), sum, buckets, labels...)
}

// Serve serves the collector's metrics at /metrics on ln until ctx ends,
// then closes ln, with the Go runtime's and the process's own metrics
// (go_*, process_*: memory, CPU, goroutines). The caller binds ln, so a
// bad or busy address is found before anything else starts. done is
// closed when the server has stopped. Scrapes are bounded: at most
// MaxScrapesInFlight rendered at once, MaxConnections held open.
func Serve(ctx context.Context, ln net.Listener, c *Collector) (done <-chan struct{}, err error) {
	reg := prometheus.NewRegistry()
	for _, col := range []prometheus.Collector{c, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})} {
		if err := reg.Register(col); err != nil {
			return nil, err
		}
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{MaxRequestsInFlight: MaxScrapesInFlight, Timeout: scrapeTimeout}))
	ln = netutil.LimitListener(ln, MaxConnections)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: scrapeTimeout, WriteTimeout: 2 * scrapeTimeout,
		IdleTimeout: 30 * time.Second, MaxHeaderBytes: 16 << 10}
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			_ = err // the listener closed under it: ctx ended
		}
	}()
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	return stopped, nil
}
