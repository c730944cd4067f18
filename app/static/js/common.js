// Shared by the call page and the dashboard: the page's strings, DOM building, personas.

export const LANG = document.documentElement.lang === 'en' ? 'en' : 'ar';
const STRINGS = JSON.parse(document.getElementById('strings').textContent);

/** The page-language text for `key`, with `{name}` placeholders filled from `vars`. */
export function t(key, vars = {}) {
  const text = STRINGS[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (whole, name) => (name in vars ? String(vars[name]) : whole));
}

/** An element with attributes (`on*` functions become listeners) and children (text is text). */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith('on') && typeof value === 'function') {
      node.addEventListener(name.slice(2), value);
    } else if (name === 'dataset') {
      Object.assign(node.dataset, value);
    } else {
      node.setAttribute(name, value === true ? '' : String(value));
    }
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

/** SVG elements for the charts. */
export function svg(tag, attrs = {}, ...children) {
  const node = document.createElementNS('http://www.w3.org/2000/svg', tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value !== undefined && value !== null) node.setAttribute(name, String(value));
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

let personasPromise = null;

/** The personas from the public API, keyed by persona key. */
export function loadPersonas() {
  personasPromise ??= fetch('/api/personas')
    .then((response) => (response.ok ? response.json() : []))
    .then((list) => Object.fromEntries(list.map((persona) => [persona.key, persona])))
    .catch(() => ({}));
  return personasPromise;
}

/** "Sarah, Sales" in the page language (`name` alone with `nameOnly`). */
export function personaLabel(personas, key, { nameOnly = false } = {}) {
  const persona = personas[key];
  if (!persona) return key ?? '';
  const name = persona.name[LANG];
  return nameOnly ? name : `${name}${LANG === 'ar' ? '، ' : ', '}${persona.department[LANG]}`;
}

/**
 * Measures a remote audio track's level every 100 ms: `onLevel(rms)` with the RMS (0..1) of
 * the last 1024 samples. Returns `{timer, context}`; stop it with `stopMeter`. Null when the
 * browser has no Web Audio.
 */
export function meterTrack(track, onLevel) {
  const AudioContextClass = window.AudioContext ?? window.webkitAudioContext;
  if (!AudioContextClass) return null;
  const context = new AudioContextClass();
  const source = context.createMediaStreamSource(new MediaStream([track.mediaStreamTrack]));
  const analyser = context.createAnalyser();
  analyser.fftSize = 1024;
  source.connect(analyser);
  const samples = new Float32Array(analyser.fftSize);
  const timer = setInterval(() => {
    if (context.state === 'suspended') context.resume().catch(() => {});
    analyser.getFloatTimeDomainData(samples);
    let sum = 0;
    for (const value of samples) sum += value * value;
    onLevel(Math.sqrt(sum / samples.length));
  }, 100);
  return { timer, context };
}

export function stopMeter({ timer, context }) {
  clearInterval(timer);
  context.close().catch(() => {});
}
