// Live supervision in the dashboard: listen in to a call as a hidden participant (both sides'
// audio and the captions), take it over with the microphone, hand it back to the persona.
//
// One supervision at a time. Its audio elements live outside the re-rendered view (a media
// element removed from the page stops playing), and the panel is kept across re-renders of
// the call it belongs to. What the page heard is on the panel as data attributes:
// data-heard-agent / data-heard-caller (the loudest RMS so far, 0..1) and data-mode
// (listening | speaking | ended).

import { el, meterTrack, stopMeter, t } from './common.js';

const VENDOR = '/static/vendor/livekit-client.esm.js';
const TRANSCRIPTION_TOPIC = 'lk.transcription';

let lk = null;
let current = null; // {callId, room, panel, captions, meters, mode}
const audioBox = el('div', { id: 'supervision-audio', hidden: true });
document.body.append(audioBox);

/** The supervision panel of a live call; `api(path, options)` calls the operator API. */
export function supervisionPanel(call, { api, guarded, rerender }) {
  if (current?.callId === call.id) return current.panel;
  const status = el('p', { class: 'hint', id: 'supervision-status', role: 'status' }, t('dash_sup_idle'));
  const captions = el('ol', { id: 'live-captions', class: 'captions' });
  const summary = el('textarea', { id: 'handback-summary', rows: 2, maxlength: 2000, placeholder: t('dash_sup_summary') });
  const listen = el('button', { type: 'button', id: 'listen', class: 'primary' }, t('dash_sup_listen'));
  const takeOver = el('button', { type: 'button', id: 'take-over', hidden: true }, t('dash_sup_take_over'));
  const handBack = el('button', { type: 'button', id: 'hand-back', hidden: true }, t('dash_sup_hand_back'));
  const leave = el('button', { type: 'button', id: 'stop-listening', hidden: true }, t('dash_sup_leave'));
  const panel = el(
    'section',
    { class: 'card', id: 'supervision', dataset: { mode: 'idle', heardAgent: '0', heardCaller: '0' } },
    el('h2', {}, t('dash_supervision')),
    status,
    el('div', { class: 'toolbar' }, listen, takeOver, leave),
    el('div', { class: 'toolbar', id: 'handback-form', hidden: true }, summary, handBack),
    captions,
  );
  const show = (mode) => {
    panel.dataset.mode = mode;
    status.textContent = t(`dash_sup_${mode}`);
    listen.hidden = mode !== 'idle' && mode !== 'ended';
    takeOver.hidden = mode !== 'listening';
    leave.hidden = mode !== 'listening';
    panel.querySelector('#handback-form').hidden = mode !== 'speaking';
    handBack.hidden = mode !== 'speaking';
  };
  const session = { callId: call.id, panel, captions, segments: new Map(), meters: [], room: null, show, rerender };
  listen.onclick = () =>
    guarded(async () => {
      await stopSupervision();
      const joined = await (await api(`/api/calls/${call.id}/listen`, { method: 'POST', body: {} })).json();
      current = session;
      await connect(session, joined, { publish: false });
      show('listening');
    });
  takeOver.onclick = () =>
    guarded(async () => {
      const joined = await (await api(`/api/calls/${call.id}/takeover`, { method: 'POST', body: {} })).json();
      await disconnect(session);
      current = session;
      // the call is ours now: hand-back stays offered even if the microphone fails
      show('speaking');
      await connect(session, joined, { publish: true });
    });
  handBack.onclick = () =>
    guarded(async () => {
      await api(`/api/calls/${call.id}/handback`, { method: 'POST', body: { summary: summary.value.trim() || null } });
      await end(session);
    });
  leave.onclick = () => end(session);
  return panel;
}

/** Leaves whatever call this page supervises (another call opened, signed out). */
export async function stopSupervision() {
  if (current) await disconnect(current);
  current = null;
}

async function end(session) {
  await disconnect(session);
  if (current === session) current = null;
  session.show('ended');
  session.rerender?.();
}

/** True while this page supervises `callId` (the view then stops refreshing itself). */
export function supervising(callId) {
  return current?.callId === callId && current.room !== null;
}

async function connect(session, joined, { publish }) {
  lk ??= await import(VENDOR);
  const room = new lk.Room();
  const E = lk.RoomEvent;
  room
    .on(E.TrackSubscribed, (track, _publication, participant) => {
      if (track.kind !== 'audio') return;
      audioBox.append(track.attach());
      meter(session, track, participant.isAgent ? 'heardAgent' : 'heardCaller');
    })
    .on(E.TrackUnsubscribed, (track) => track.detach().forEach((node) => node.remove()))
    .on(E.Disconnected, () => {
      // the call ended (or the operator was removed at hand-back)
      if (session.room === room) end(session);
    });
  room.registerTextStreamHandler(TRANSCRIPTION_TOPIC, (reader, from) => caption(session, reader, from, room));
  await room.connect(joined.livekit_url, joined.token);
  session.room = room;
  if (publish) await room.localParticipant.setMicrophoneEnabled(true);
}

async function disconnect(session) {
  session.meters.forEach(stopMeter);
  session.meters = [];
  const room = session.room;
  session.room = null;
  if (room) await room.disconnect();
  audioBox.replaceChildren();
}

function meter(session, track, key) {
  const meter = meterTrack(track, (rms) => {
    if (rms > Number(session.panel.dataset[key])) session.panel.dataset[key] = rms.toFixed(4);
  });
  if (meter) session.meters.push(meter);
}

async function caption(session, reader, from, room) {
  const speaker = room.remoteParticipants.get(from?.identity);
  const role = speaker?.isAgent ? 'agent' : speaker?.attributes?.['ornina.role'] === 'operator' ? 'operator' : 'caller';
  // one line per segment: a caller's transcript arrives as several streams of one segment
  const segment = reader.info.attributes?.['lk.segment_id'] || reader.info.id;
  let item = session.segments.get(segment);
  if (!item) {
    item = el('li', { class: role, dataset: { role } }, el('span', { class: 'who' }, t(`dash_sup_role_${role}`)), ' ', el('span', { class: 'text', dir: 'auto' }));
    session.segments.set(segment, item);
    session.captions.append(item);
  }
  let text = '';
  try {
    for await (const chunk of reader) {
      text += chunk;
      item.querySelector('.text').textContent = text;
    }
  } catch {
    // cut short by a hang-up: keep what arrived
  }
}
