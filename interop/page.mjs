// The browser half of driver.mjs: one livekit-client Room in a headless
// Chromium page. driver.mjs calls window.dttui.call(cmd, args) and relays
// what this page passes to window.dttuiEmit (events) as JSON lines.
import * as LK from '/lk/livekit-client.esm.mjs';

const emit = (ev) => {
  // Fire and forget: CDP keeps the order; awaiting would slow the readers.
  window.dttuiEmit(ev).catch(() => {});
};

window.addEventListener('error', (e) => emit({ event: 'pageError', error: String(e.message) }));
window.addEventListener('unhandledrejection', (e) =>
  emit({ event: 'pageError', error: describe(e.reason).error }),
);

// Every warning and error of livekit-client's own loggers, counted by what
// it says: the library reports dropped and undecryptable data-track frames
// only in its logs (IncomingDataTrackPipeline), so this is how the harness
// sees them.
const logCounts = {
  decryptErrors: 0, // "Error decrypting packet" (per frame, main thread)
  depacketizeErrors: 0, // "Data frame depacketize error"
  partialsEvicted: 0, // "Data track partials full"
  streamFull: 0, // "Cannot send frame to subscribers: readable stream is full"
  warnings: 0,
  errors: 0,
};
const lastLogs = [];
LK.setLogLevel('warn');
for (const name of Object.values(LK.LoggerNames)) {
  LK.setLogExtension((level, msg) => {
    if (level < LK.LogLevel.warn) return;
    const text = String(msg);
    if (text.startsWith('Error decrypting packet')) logCounts.decryptErrors++;
    else if (text.startsWith('Data frame depacketize error')) logCounts.depacketizeErrors++;
    else if (text.startsWith('Data track partials full')) logCounts.partialsEvicted++;
    else if (text.startsWith('Cannot send frame to subscribers')) logCounts.streamFull++;
    if (level >= LK.LogLevel.error) logCounts.errors++;
    else logCounts.warnings++;
    lastLogs.push(`${name} ${LK.LogLevel[level]}: ${text}`);
    if (lastLogs.length > 20) lastLogs.shift();
  }, LK.getLogger(name));
}

let room = null;
let e2ee = false;
let encryptionErrors = 0;
const local = new Map(); // name → {track, nextIndex, pushed, failed}
const remote = new Map(); // RemoteDataTrack → sub state (keyed by object: the SID changes on a republish)
let subscribeAll = null; // {mode, bufferSize, hexLimit, verifyPattern} once "subscribe" ran

function describe(err) {
  if (err === null || typeof err !== 'object') return { error: String(err) };
  const out = { error: `${err.name ?? 'Error'}: ${err.message}` };
  if (err.reasonName !== undefined) out.errorReason = err.reasonName;
  if (err.name) out.errorName = err.name;
  if (err.cause) out.error += ` (cause: ${err.cause?.message ?? err.cause})`;
  return out;
}

// pattern is the deterministic payload: the frame index as a big-endian
// u64 in the first 8 bytes (as many as fit), then byte j = (index + j) & 0xff.
// internal/jsclient.Pattern is the same function in Go.
function pattern(index, size) {
  const b = new Uint8Array(size);
  const big = BigInt(index);
  for (let j = 0; j < Math.min(8, size); j++) {
    b[j] = Number((big >> BigInt(8 * (7 - j))) & 0xffn);
  }
  const lo = Number(big & 0xffn);
  for (let j = 8; j < size; j++) b[j] = (lo + j) & 0xff;
  return b;
}

function patternIndex(p) {
  if (p.length < 8) return null;
  let v = 0n;
  for (let j = 0; j < 8; j++) v = (v << 8n) | BigInt(p[j]);
  return v;
}

function matchesPattern(p) {
  const idx = patternIndex(p);
  if (idx === null) return false;
  const lo = Number(idx & 0xffn);
  for (let j = 8; j < p.length; j++) if (p[j] !== ((lo + j) & 0xff)) return false;
  return true;
}

const hex = (b) => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
const fromHex = (s) => Uint8Array.from(s.match(/../g) ?? [], (h) => parseInt(h, 16));
const nowMs = () => performance.timeOrigin + performance.now();
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function trackInfo(t) {
  return { sid: t.info.sid, name: t.info.name, publisher: t.publisherIdentity, usesE2ee: t.info.usesE2ee };
}

function onRemoteTrack(track) {
  if (!remote.has(track)) remote.set(track, { track, state: 'known' });
  emit({ event: 'trackPublished', ...trackInfo(track) });
  if (subscribeAll) startSubscription(track);
}

// startSubscription reads every frame of track; "subscribed" is emitted once
// the SFU has assigned the subscriber handle (frames pushed from then on
// can arrive). livekit-client 2.23 has no public signal for that, so this
// awaits its IncomingDataTrackManager.subscribeRequest, which resolves at
// that moment (and at once when already active).
function startSubscription(track) {
  const sub = remote.get(track);
  if (sub.state === 'subscribing' || sub.state === 'subscribed') return;
  if (track.info.usesE2ee !== e2ee) {
    // IncomingDataTrackPipeline throws when the track's E2EE and the
    // room's differ; report it rather than let the library fail later.
    sub.state = 'skipped';
    emit({ event: 'subscribeFailed', ...trackInfo(track), error: `track usesE2ee=${track.info.usesE2ee} but this room has e2ee=${e2ee}` });
    return;
  }
  const cfg = subscribeAll;
  Object.assign(sub, {
    state: 'subscribing', mode: cfg.mode, frames: 0, bytes: 0, userTimestamps: 0,
    firstArrivalMs: 0, lastArrivalMs: 0, patternErrors: 0, minIndex: null, maxIndex: null,
    outOfOrder: 0, lastIndex: null, latencies: [],
  });
  const stream = track.subscribe({ bufferSize: cfg.bufferSize });
  const reader = stream.getReader();
  sub.reader = reader;
  room.incomingDataTrackManager
    .subscribeRequest(track.info.sid)
    .then(() => {
      if (sub.state !== 'subscribing') return;
      sub.state = 'subscribed';
      emit({ event: 'subscribed', ...trackInfo(track) });
    })
    .catch((err) => emit({ event: 'subscribeFailed', ...trackInfo(track), ...describe(err) }));
  (async () => {
    for (;;) {
      let r;
      try {
        r = await reader.read();
      } catch (err) {
        emit({ event: 'streamError', ...trackInfo(track), ...describe(err) });
        break;
      }
      if (r.done) break;
      await onFrame(sub, r.value);
    }
    if (sub.state !== 'unsubscribed') sub.state = 'ended';
    emit({ event: 'streamEnded', ...trackInfo(track), frames: sub.frames });
  })();
}

async function onFrame(sub, frame) {
  const arrivalMs = nowMs();
  const p = frame.payload;
  sub.frames++;
  sub.bytes += p.length;
  sub.firstArrivalMs ||= arrivalMs;
  sub.lastArrivalMs = arrivalMs;
  // 'count': frames, bytes and arrival times only, so a benchmark charges
  // the subscriber what livekit-client costs, not what this harness adds.
  if (sub.mode === 'count') return;
  const ts = frame.userTimestamp;
  if (ts !== undefined) {
    sub.userTimestamps++;
    if (sub.latencies.length < 200000) sub.latencies.push(arrivalMs - Number(ts));
  }
  const idx = patternIndex(p);
  if (idx !== null) {
    if (sub.minIndex === null || idx < sub.minIndex) sub.minIndex = idx;
    if (sub.maxIndex === null || idx > sub.maxIndex) sub.maxIndex = idx;
    if (sub.lastIndex !== null && idx <= sub.lastIndex) sub.outOfOrder++;
    sub.lastIndex = idx;
  }
  if (subscribeAll.verifyPattern && !matchesPattern(p)) sub.patternErrors++;
  if (sub.mode !== 'frames') return;
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', p));
  const ev = {
    event: 'frame', ...trackInfo(sub.track), seq: sub.frames - 1, len: p.length,
    sha256: hex(digest), arrivalMs,
  };
  if (p.length <= subscribeAll.hexLimit) ev.hex = hex(p);
  if (ts !== undefined) ev.userTimestamp = ts.toString();
  emit(ev);
}

function percentile(sorted, q) {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

function counters(sub) {
  const lat = Float64Array.from(sub.latencies ?? []).sort();
  return {
    ...trackInfo(sub.track), state: sub.state, frames: sub.frames ?? 0, bytes: sub.bytes ?? 0,
    userTimestamps: sub.userTimestamps ?? 0, firstArrivalMs: sub.firstArrivalMs ?? 0,
    lastArrivalMs: sub.lastArrivalMs ?? 0, patternErrors: sub.patternErrors ?? 0,
    minIndex: sub.minIndex?.toString(), maxIndex: sub.maxIndex?.toString(), outOfOrder: sub.outOfOrder ?? 0,
    latencyMs: lat.length ? { n: lat.length, min: lat[0], p50: percentile(lat, 0.5), p99: percentile(lat, 0.99), max: lat[lat.length - 1] } : undefined,
  };
}

const commands = {
  async join({ url, token, e2eePassphrase, relayOnly = false }) {
    if (room) throw new Error('already joined');
    const opts = { adaptiveStream: false, dynacast: false };
    let keyProvider = null;
    if (e2eePassphrase) {
      // livekit-client's E2EE: a shared-key provider plus its worker
      // (dist/livekit-client.e2ee.worker.mjs, served by the driver).
      keyProvider = new LK.ExternalE2EEKeyProvider();
      opts.encryption = {
        keyProvider,
        worker: new Worker('/lk/livekit-client.e2ee.worker.mjs', { type: 'module' }),
      };
    }
    room = new LK.Room(opts);
    e2ee = !!e2eePassphrase;
    room
      .on(LK.RoomEvent.DataTrackPublished, onRemoteTrack)
      .on(LK.RoomEvent.DataTrackUnpublished, (sid) => {
        for (const [t, sub] of remote) {
          if (t.info.sid === sid) {
            remote.delete(t);
            emit({ event: 'trackUnpublished', sid, name: t.info.name, publisher: t.publisherIdentity, frames: sub.frames ?? 0 });
          }
        }
      })
      .on(LK.RoomEvent.EncryptionError, (err) => {
        encryptionErrors++;
        emit({ event: 'encryptionError', ...describe(err) });
      })
      .on(LK.RoomEvent.Reconnecting, () => emit({ event: 'reconnecting' }))
      .on(LK.RoomEvent.Reconnected, () => emit({ event: 'reconnected' }))
      .on(LK.RoomEvent.Disconnected, (reason) => emit({ event: 'disconnected', reason: reason ?? null }));
    if (keyProvider) {
      await keyProvider.setKey(e2eePassphrase);
      await room.setE2EEEnabled(true);
    }
    // relayOnly: only relayed candidates, through the TURN servers the
    // SFU lists (its join response fills iceServers when we give none).
    await room.connect(url, token, relayOnly ? { rtcConfig: { iceTransportPolicy: 'relay' } } : undefined);
    return {
      identity: room.localParticipant.identity,
      participantSid: room.localParticipant.sid,
      room: room.name,
      e2ee,
      serverVersion: room.serverInfo?.version ?? '',
    };
  },

  async publish({ name }) {
    const track = await room.localParticipant.publishDataTrack({ name });
    local.set(name, { track, nextIndex: 0, pushed: 0, failed: 0 });
    return { sid: track.info.sid, name: track.info.name, pubHandle: track.info.pubHandle, usesE2ee: track.info.usesE2ee };
  },

  async unpublish({ name }) {
    const l = local.get(name);
    if (!l) throw new Error(`no local track ${name}`);
    await l.track.unpublish();
    local.delete(name);
    return {};
  },

  // push sends count frames on track name at rate frames/s (0: back to
  // back), each awaited tryPush (encrypt + packetize; livekit-client has no
  // frame queue, its data channel send waits for buffer room instead).
  // durationMs > 0 also ends the run once that long has passed;
  // flushEvery > 0 awaits flush() after every flushEvery frames.
  async push({ name, count, rate = 0, size = 0, payloadHex, userTimestamp, userTimestampStep = '0', flush = 'end', durationMs = 0, flushEvery = 0 }) {
    const l = local.get(name);
    if (!l) throw new Error(`no local track ${name}`);
    const fixed = payloadHex !== undefined ? fromHex(payloadHex) : null;
    const step = BigInt(userTimestampStep);
    const res = { attempted: 0, ok: 0, failed: 0, failures: {}, firstIndex: l.nextIndex, elapsedMs: 0, tryPushMs: 0 };
    const start = nowMs();
    for (let i = 0; i < count; i++) {
      if (durationMs > 0 && nowMs() - start >= durationMs) break;
      if (rate > 0) {
        const due = start + (i * 1000) / rate;
        const wait = due - nowMs();
        if (wait > 1) await sleep(wait);
      }
      const payload = fixed ? fixed.slice() : pattern(l.nextIndex, size);
      l.nextIndex++;
      const frame = { payload };
      if (userTimestamp === 'now') frame.userTimestamp = BigInt(Date.now());
      else if (userTimestamp !== undefined) frame.userTimestamp = BigInt(userTimestamp) + step * BigInt(i);
      res.attempted++;
      try {
        const t0 = nowMs();
        await l.track.tryPush(frame);
        res.tryPushMs += nowMs() - t0;
        res.ok++;
        l.pushed++;
        if (flush === 'each' || (flushEvery > 0 && res.ok % flushEvery === 0)) await l.track.flush();
      } catch (err) {
        res.failed++;
        l.failed++;
        const d = describe(err);
        const key = d.errorReason ?? d.errorName ?? 'Error';
        res.failures[key] = (res.failures[key] ?? 0) + 1;
        res.firstError ??= d.error;
      }
    }
    if (flush !== 'none') await l.track.flush();
    res.elapsedMs = nowMs() - start;
    return res;
  },

  async subscribe({ mode = 'frames', bufferSize = 1024, hexLimit = 64, verifyPattern = false }) {
    if (!room) throw new Error('not joined');
    if (mode !== 'frames' && mode !== 'counters' && mode !== 'count') throw new Error(`unknown mode ${mode}`);
    subscribeAll = { mode, bufferSize, hexLimit, verifyPattern };
    for (const p of room.remoteParticipants.values()) {
      for (const t of p.dataTracks.values()) if (!remote.has(t)) remote.set(t, { track: t, state: 'known' });
    }
    for (const t of remote.keys()) startSubscription(t);
    return { tracks: Array.from(remote.keys(), trackInfo) };
  },

  async unsubscribe({ sid }) {
    for (const [t, sub] of remote) {
      if (t.info.sid !== sid || !sub.reader) continue;
      sub.state = 'unsubscribed';
      await sub.reader.cancel();
      return counters(sub);
    }
    throw new Error(`no subscription to ${sid}`);
  },

  async counters() {
    return {
      tracks: Array.from(remote.values(), counters),
      log: { ...logCounts },
      encryptionErrors,
    };
  },

  async stats() {
    return {
      connectionState: room?.state ?? 'none',
      identity: room?.localParticipant.identity ?? '',
      e2ee,
      local: Array.from(local, ([name, l]) => ({
        name, sid: l.track.info?.sid ?? '', published: l.track.isPublished(), pushed: l.pushed, failed: l.failed,
      })),
      remote: Array.from(remote.values(), counters),
      log: { ...logCounts },
      lastLogs: [...lastLogs],
      encryptionErrors,
    };
  },

  // dataChannels sums, per label, what Chromium's own statistics
  // (RTCDataChannelStats) say every data channel of both PeerConnections
  // carried: '_data_track' messages are data-track packets, counted
  // below livekit-client's depacketizer.
  async dataChannels() {
    if (!room) throw new Error('not joined');
    const out = {};
    const pcm = room.engine.pcManager;
    for (const t of [pcm?.publisher, pcm?.subscriber]) {
      const pc = t?._pc; // livekit-client has no public accessor
      if (!pc) continue;
      const report = await pc.getStats();
      report.forEach((s) => {
        if (s.type !== 'data-channel') return;
        const c = (out[s.label] ??= { messagesSent: 0, bytesSent: 0, messagesReceived: 0, bytesReceived: 0 });
        c.messagesSent += s.messagesSent ?? 0;
        c.bytesSent += s.bytesSent ?? 0;
        c.messagesReceived += s.messagesReceived ?? 0;
        c.bytesReceived += s.bytesReceived ?? 0;
      });
    }
    return { channels: out };
  },

  // paths reports, per PeerConnection, the candidate pair Chromium
  // selected: what the transport is (UDP or TCP, host or relay) and its
  // round trip, by Chromium's own statistics.
  async paths() {
    if (!room) throw new Error('not joined');
    const out = [];
    const pcm = room.engine.pcManager;
    for (const [role, t] of [['publisher', pcm?.publisher], ['subscriber', pcm?.subscriber]]) {
      const pc = t?._pc;
      if (!pc) continue;
      const report = await pc.getStats();
      report.forEach((s) => {
        if (s.type !== 'transport' || !s.selectedCandidatePairId) return;
        const pair = report.get(s.selectedCandidatePairId);
        const local = pair && report.get(pair.localCandidateId);
        out.push({
          role,
          protocol: local?.protocol ?? '',
          candidateType: local?.candidateType ?? '',
          rttMs: (pair?.currentRoundTripTime ?? 0) * 1000,
          bytesSent: pair?.bytesSent ?? 0,
        });
      });
    }
    return { paths: out };
  },

  // simulate runs one of livekit-client's reconnect scenarios
  // (Room.simulateScenario): 'full-reconnect' rejoins as a new participant
  // and republishes every data track with its handle under a new SID;
  // 'signal-reconnect' resumes the same participant.
  async simulate({ scenario }) {
    if (!room) throw new Error('not joined');
    await room.simulateScenario(scenario);
    return {};
  },

  async leave() {
    if (room) await room.disconnect();
    return {};
  },
};

window.dttui = {
  version: LK.version,
  async call(cmd, args) {
    const f = commands[cmd];
    if (!f) return { ok: false, error: `unknown command ${cmd}` };
    try {
      return { ok: true, result: await f(args ?? {}) };
    } catch (err) {
      return { ok: false, ...describe(err) };
    }
  },
};
