// The call page: asks for the microphone, starts a call through the API, joins the LiveKit
// room and shows what the agent publishes there.
//
// What it reads from the room (LiveKit Agents 1.x conventions plus two of ours):
//   - the agent: the remote participant whose kind is AGENT (`participant.isAgent`);
//   - its attribute `lk.agent.state`: initializing | listening | thinking | speaking;
//   - its attributes `ornina.persona` (reception | sales | complaints) and `ornina.language`
//     (ar | en): a change of `ornina.persona` is shown as a transfer;
//   - captions: text streams on the topic `lk.transcription`, grouped by the stream attribute
//     `lk.segment_id`; a stream sent as the caller (their identity, or
//     `lk.transcribed_track_id` naming the caller's microphone track) is the caller's words.

import { el, LANG, loadPersonas, meterTrack, personaLabel, stopMeter, t } from './common.js';

const VENDOR = '/static/vendor/livekit-client.esm.js';
const TRANSCRIPTION_TOPIC = 'lk.transcription';
const HEARD_LEVEL = 0.02; // RMS of the agent's audio above which we count it as heard

const $ = (id) => document.getElementById(id);
const page = $('call');
const ui = {
  form: $('start-form'),
  start: $('start'),
  name: $('name'),
  phone: $('phone'),
  status: $('status'),
  error: $('error'),
  live: $('live'),
  speakerName: $('speaker-name'),
  agentState: $('agent-state'),
  level: $('agent-level'),
  transfer: $('transfer'),
  youSpeaking: $('you-speaking'),
  muted: $('muted-note'),
  playAudio: $('play-audio'),
  mute: $('mute'),
  hangup: $('hangup'),
  captions: $('captions'),
  captionsEmpty: $('captions-empty'),
  audio: $('audio'),
};

let lk = null; // the livekit-client module
let call = null; // {room, micTrack, info, persona, segments, meters}

function setState(state, statusKey) {
  page.dataset.state = state;
  if (statusKey) ui.status.textContent = t(statusKey);
}

function showError(key) {
  ui.error.textContent = t(key);
  ui.error.dataset.reason = key;
  ui.error.hidden = false;
}

function clearError() {
  ui.error.hidden = true;
  ui.error.textContent = '';
  delete ui.error.dataset.reason;
}

async function loadLiveKit() {
  lk ??= await import(VENDOR);
  return lk;
}

function micErrorKey(error) {
  if (!navigator.mediaDevices?.getUserMedia) return 'call_error_mic_insecure';
  const name = error?.name ?? '';
  if (name === 'NotAllowedError' || name === 'SecurityError' || name === 'PermissionDeniedError') {
    return 'call_error_mic_denied';
  }
  if (['NotFoundError', 'DevicesNotFoundError', 'OverconstrainedError', 'NotReadableError'].includes(name)) {
    return 'call_error_mic_missing';
  }
  return 'call_error_failed';
}

async function startCall(event) {
  event.preventDefault();
  if (call) return;
  clearError();
  ui.start.disabled = true;
  try {
    await loadLiveKit();
  } catch {
    ui.start.disabled = false;
    setState('error');
    showError('call_error_unavailable');
    return;
  }

  // The microphone first: a refusal leaves no call row behind and says what to do.
  setState('mic', 'call_status_mic');
  let micTrack;
  try {
    if (!navigator.mediaDevices?.getUserMedia) throw new Error('insecure context');
    micTrack = await lk.createLocalAudioTrack({
      echoCancellation: true,
      noiseSuppression: true,
      autoGainControl: true,
    });
  } catch (error) {
    ui.start.disabled = false;
    setState('error', 'call_status_idle');
    showError(micErrorKey(error));
    return;
  }

  setState('connecting', 'call_status_connecting');
  let info;
  try {
    info = await requestCall();
  } catch (error) {
    micTrack.stop();
    ui.start.disabled = false;
    setState('error', 'call_status_idle');
    showError(error.messageKey ?? 'call_error_failed');
    return;
  }

  const room = new lk.Room({ adaptiveStream: false, dynacast: false });
  call = { room, micTrack, info, persona: null, segments: new Map(), meters: [], agent: null, joined: false };
  page.dataset.callId = String(info.call_id);
  wireRoom(room);
  try {
    await room.connect(info.livekit_url, info.token);
    await room.localParticipant.publishTrack(micTrack, { source: lk.Track.Source.Microphone });
  } catch {
    if (call?.room === room) await endCall({ errorKey: 'call_error_connection' });
    return;
  }
  if (call?.room !== room) return; // hung up while connecting
  call.joined = true;
  ui.form.hidden = true;
  ui.live.hidden = false;
  showMuted(false);
  if (!room.canPlaybackAudio) ui.playAudio.hidden = false;
  setState('waiting', 'call_status_waiting');
  for (const participant of room.remoteParticipants.values()) onParticipant(participant);
  countParticipants(room);
}

async function requestCall() {
  const body = { language: LANG };
  const name = ui.name.value.trim();
  const phone = ui.phone.value.trim();
  if (name) body.name = name;
  if (phone) body.phone = phone;
  const response = await fetch('/api/calls', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  });
  if (response.status === 201) return response.json();
  const failure = new Error(`POST /api/calls answered ${response.status}`);
  if (response.status === 429) failure.messageKey = 'call_error_rate_limited';
  else if (response.status === 422 && phone) failure.messageKey = 'call_error_phone';
  throw failure;
}

function wireRoom(room) {
  const E = lk.RoomEvent;
  room
    .on(E.ParticipantConnected, (participant) => {
      countParticipants(room);
      onParticipant(participant);
    })
    .on(E.ParticipantDisconnected, (participant) => {
      countParticipants(room);
      if (participant === call?.agent) {
        call.agent = null;
        setState('waiting', 'call_status_waiting');
      }
    })
    .on(E.ParticipantAttributesChanged, (_changed, participant) => {
      if (participant === call?.agent) showAgent(participant);
    })
    .on(E.TrackSubscribed, (track, _publication, participant) => {
      if (track.kind !== lk.Track.Kind.Audio) return;
      ui.audio.append(track.attach());
      if (participant.isAgent) meterAgentAudio(track);
      else if (isOperator(participant)) meterAudio(track, 'heardOperator');
    })
    .on(E.TrackUnsubscribed, (track) => track.detach().forEach((node) => node.remove()))
    .on(E.ActiveSpeakersChanged, (speakers) => {
      ui.youSpeaking.hidden = !speakers.some((p) => p === room.localParticipant);
    })
    .on(E.AudioPlaybackStatusChanged, () => {
      ui.playAudio.hidden = room.canPlaybackAudio;
    })
    .on(E.Reconnecting, () => setState('reconnecting', 'call_status_reconnecting'))
    .on(E.Reconnected, () => {
      if (call?.agent) setState('in-call', 'call_status_in_call');
      else setState('waiting', 'call_status_waiting');
    })
    // a failed connect is reported by startCall, with its own message
    .on(E.Disconnected, () => call?.joined && endCall());
  room.registerTextStreamHandler(TRANSCRIPTION_TOPIC, onTranscription);
}

/** Who else is in the call, as the page sees it (a supervisor listening in is not). */
function countParticipants(room) {
  page.dataset.remoteParticipants = String(room.remoteParticipants.size);
}

const isOperator = (participant) => participant.attributes?.['ornina.role'] === 'operator';

function onParticipant(participant) {
  if (call && isOperator(participant)) {
    ui.transfer.textContent = t('call_colleague_joined');
    ui.transfer.hidden = false;
  }
  if (!participant.isAgent || !call) return;
  call.agent = participant;
  setState('in-call', 'call_status_in_call');
  showAgent(participant);
}

async function showAgent(agent) {
  const personas = await loadPersonas();
  const attributes = agent.attributes ?? {};
  const persona = attributes['ornina.persona'] || call.persona || call.info.department;
  const state = attributes['lk.agent.state'] || 'initializing';
  if (call.persona && persona !== call.persona) {
    const label = personaLabel(personas, persona);
    ui.transfer.textContent = t('call_transferred', { persona: label });
    ui.transfer.dataset.persona = persona;
    ui.transfer.hidden = false;
    // a caption that started streaming just before the attribute arrived is the new persona's
    const streaming = ui.captions.querySelectorAll('li[data-role="agent"]:not([data-final])');
    appendCaptionNote(label, persona);
    for (const item of streaming) {
      item.dataset.persona = persona;
      item.querySelector('.who').textContent = personaLabel(personas, persona, { nameOnly: true });
      ui.captions.append(item);
    }
  }
  call.persona = persona;
  page.dataset.persona = persona;
  page.dataset.agentState = state;
  ui.speakerName.textContent = personaLabel(personas, persona);
  ui.agentState.textContent = t(`call_state_${state}`);
  ui.live.classList.toggle('agent-speaking', state === 'speaking');
}

/** Marks the page once a participant's audio was heard (`data-<key>`). */
function meterAudio(track, key) {
  const meter = meterTrack(track, (rms) => {
    if (rms > HEARD_LEVEL) page.dataset[key] = 'true';
  });
  if (meter) call.meters.push(meter);
}

function meterAgentAudio(track) {
  const meter = meterTrack(track, (rms) => {
    ui.level.style.inlineSize = `${Math.min(100, Math.round(rms * 400))}%`;
    if (rms > HEARD_LEVEL) page.dataset.heardAgent = 'true';
  });
  if (meter) call.meters.push(meter);
}

async function onTranscription(reader, participantInfo) {
  if (!call) return;
  const attributes = reader.info.attributes ?? {};
  const segment = attributes['lk.segment_id'] || reader.info.id;
  const trackId = attributes['lk.transcribed_track_id'];
  const local = call.room.localParticipant;
  const fromCaller =
    participantInfo?.identity === local.identity ||
    (trackId !== undefined && trackId === call.micTrack.sid);
  const personas = await loadPersonas();
  const item = captionItem(segment, fromCaller, personas);
  let text = '';
  try {
    for await (const chunk of reader) {
      text += chunk;
      setCaptionText(item, text);
    }
  } catch {
    // a stream cut short by a hang-up keeps what arrived
  }
  if (!fromCaller || attributes['lk.transcription_final'] === 'true') item.dataset.final = 'true';
}

function captionItem(segment, fromCaller, personas) {
  let item = call.segments.get(segment);
  if (item) return item;
  const who = fromCaller ? t('call_you') : personaLabel(personas, call.persona, { nameOnly: true });
  const language = fromCaller ? undefined : call.agent?.attributes?.['ornina.language'];
  item = el(
    'li',
    {
      dataset: { role: fromCaller ? 'caller' : 'agent', segment, persona: fromCaller ? '' : call.persona },
      class: fromCaller ? 'caller' : 'agent',
    },
    el('span', { class: 'who' }, who),
    el('span', { class: 'text', dir: 'auto', lang: language }),
  );
  call.segments.set(segment, item);
  ui.captions.append(item);
  ui.captionsEmpty.hidden = true;
  return item;
}

function setCaptionText(item, text) {
  item.querySelector('.text').textContent = text.trim();
  // Only the list scrolls: scrolling the page would move the buttons under the caller's finger.
  ui.captions.scrollTop = ui.captions.scrollHeight;
}

function appendCaptionNote(label, persona) {
  ui.captions.append(
    el('li', { class: 'note', dataset: { role: 'transfer', persona } }, t('call_transferred', { persona: label })),
  );
}

let muteChange = Promise.resolve();

/** Each click flips the button at once; the track follows, one change at a time. */
function toggleMute() {
  const current = call;
  if (!current) return;
  const muting = ui.mute.getAttribute('aria-pressed') !== 'true';
  showMuted(muting);
  muteChange = muteChange
    .then(() => (muting ? current.micTrack.mute() : current.micTrack.unmute()))
    .catch(() => showMuted(current.micTrack.isMuted)); // the button says what the microphone does
}

function showMuted(muted) {
  ui.mute.setAttribute('aria-pressed', String(muted));
  ui.mute.textContent = t(muted ? 'call_unmute' : 'call_mute');
  ui.muted.hidden = !muted;
}

async function endCall({ errorKey } = {}) {
  const current = call;
  if (!current) return;
  call = null;
  current.meters.forEach(stopMeter);
  current.room.unregisterTextStreamHandler?.(TRANSCRIPTION_TOPIC);
  await current.room.disconnect().catch(() => {});
  current.micTrack.stop();
  ui.audio.replaceChildren();
  ui.live.hidden = true;
  ui.youSpeaking.hidden = true;
  ui.muted.hidden = true;
  ui.playAudio.hidden = true;
  ui.form.hidden = false;
  ui.start.disabled = false;
  if (errorKey) {
    setState('error', 'call_status_idle');
    showError(errorKey);
  } else {
    setState('ended', 'call_status_ended');
  }
}

ui.form.addEventListener('submit', startCall);
ui.mute.addEventListener('click', toggleMute);
ui.hangup.addEventListener('click', () => endCall());
ui.playAudio.addEventListener('click', () => call?.room.startAudio());
window.addEventListener('pagehide', () => call?.room.disconnect());
loadPersonas();
