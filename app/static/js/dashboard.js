// The operator dashboard: calls (live and recent, with transcript, persona timeline, transfers
// and latency per turn), customers, tickets and per-persona analytics with CSV export.
// Operators sign in with their login and password (an HttpOnly session cookie, and a CSRF token
// sent with every change), or with the installation key, kept in sessionStorage only (this
// tab). What a role may not do is not shown.

import { barChart } from './charts.js';
import { el, LANG, loadPersonas, personaLabel, t } from './common.js';
import { stopSupervision, supervising, supervisionPanel } from './supervision.js';

const KEY_STORAGE = 'ornina.operatorKey';
const CSRF_STORAGE = 'ornina.csrf';
const SAFE = new Set(['GET', 'HEAD']);
let me = null; // GET /api/session: the operator and what their role allows
const PERSONA_KEYS = ['reception', 'sales', 'complaints'];
const TICKET_STATUSES = ['open', 'in_progress', 'resolved', 'closed'];
const REFRESH_MS = 3000;
const LIVE_REFRESH_MS = 1000; // the live view: a call shows within about a second
const LIVE_WINDOW_MS = 10 * 60 * 1000; // "waiting" calls older than this are abandoned pages
const LOCALE = LANG === 'ar' ? 'ar-u-nu-latn' : 'en-GB';

const $ = (id) => document.getElementById(id);
const view = $('view');
const viewError = $('view-error');
let personas = {};
let refreshTimer = null;
let renderCount = 0;
const analyticsRange = { since: daysAgo(29), until: daysAgo(0) };

class Unauthorized extends Error {}

// -- the API --------------------------------------------------------------------------------

function operatorKey() {
  return sessionStorage.getItem(KEY_STORAGE);
}

const can = (permission) => Boolean(me?.permissions.includes(permission));

async function api(path, { method = 'GET', body } = {}) {
  const headers = {};
  if (operatorKey()) headers['X-API-Key'] = operatorKey();
  else if (!SAFE.has(method)) headers['X-CSRF-Token'] = sessionStorage.getItem(CSRF_STORAGE) ?? '';
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const response = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (response.status === 401) throw new Unauthorized();
  if (!response.ok) {
    let message = `${response.status}`;
    try {
      message = (await response.json()).error.message;
    } catch {
      // not our JSON error: keep the status
    }
    throw new Error(message);
  }
  return response;
}

const getJson = async (path) => (await api(path)).json();

function query(params) {
  const entries = Object.entries(params).filter(([, value]) => value !== undefined && value !== '');
  return entries.length ? `?${new URLSearchParams(entries)}` : '';
}

// -- formatting -----------------------------------------------------------------------------

const dateTime = new Intl.DateTimeFormat(LOCALE, { dateStyle: 'medium', timeStyle: 'medium' });
const timeOnly = new Intl.DateTimeFormat(LOCALE, { timeStyle: 'medium' });
const number = new Intl.NumberFormat(LOCALE, { maximumFractionDigits: 2 });

const when = (iso) => (iso ? dateTime.format(new Date(iso)) : '—');
const clock = (iso) => (iso ? timeOnly.format(new Date(iso)) : '—');
const seconds = (value) => (value == null ? '—' : t('dash_seconds', { n: number.format(value) }));

/** The translated label of an enumerated value (`status_ended`), or the value itself. */
function label(prefix, value) {
  if (value == null || value === '') return '—';
  const key = `${prefix}${value}`;
  const text = t(key);
  return text === key ? String(value) : text;
}

const persona = (key, options) => (key ? personaLabel(personas, key, options) : '—');
const direction = (language) => (language === 'en' ? 'ltr' : 'rtl');

function daysAgo(days) {
  const day = new Date(Date.now() - days * 86400000);
  return day.toISOString().slice(0, 10);
}

// -- building blocks ------------------------------------------------------------------------

function table(id, columns, rows, { onRow, empty = t('dash_no_rows') } = {}) {
  if (!rows.length) return el('p', { id, class: 'hint', 'data-empty': 'true' }, empty);
  return el(
    'div',
    { class: 'table-wrap' },
    el(
      'table',
      { id },
      el('thead', {}, el('tr', {}, columns.map(([heading]) => el('th', { scope: 'col' }, heading)))),
      el(
        'tbody',
        {},
        rows.map((row) =>
          el(
            'tr',
            {
              class: onRow ? 'link-row' : undefined,
              dataset: { id: row.id ?? '' },
              onclick: onRow ? () => onRow(row) : undefined,
            },
            columns.map(([, cell]) => el('td', {}, cell(row))),
          ),
        ),
      ),
    ),
  );
}

function facts(pairs) {
  return el(
    'dl',
    { class: 'facts' },
    pairs.flatMap(([term, value]) => [el('dt', {}, term), el('dd', {}, value)]),
  );
}

function section(title, ...children) {
  return el('section', { class: 'card' }, el('h2', {}, title), ...children);
}

const link = (hash, text) => el('a', { href: hash }, text);
const badge = (cls, text) => el('span', { class: `badge ${cls}` }, text);

const callColumns = [
  [t('dash_col_id'), (c) => link(`#call/${c.id}`, c.id)],
  [t('dash_col_started'), (c) => when(c.created_at)],
  [t('dash_col_caller'), (c) => callerName(c)],
  [t('dash_col_channel'), (c) => channel(c)],
  [t('dash_col_identity'), (c) => identity(c)],
  [t('dash_col_language'), (c) => label('language_', c.language)],
  [t('dash_col_personas'), (c) => personasVisited(c)],
  [t('dash_col_status'), (c) => badge(c.status, label('status_', c.status))],
  [t('dash_col_duration'), (c) => seconds(c.duration_seconds)],
  [t('dash_col_outcome'), (c) => c.outcome ?? '—'],
];

function callerName(call) {
  const text = call.caller_name || call.caller_phone || '—';
  return el('span', { dir: 'auto' }, text);
}

/** A call's identity level and how it was reached: a verified caller, or a claim. */
function identity(call) {
  const level = call.identity_level ?? 'anonymous';
  const how = call.identity_method ? ` · ${label('identity_method_', call.identity_method)}` : '';
  return el('span', { class: `badge identity-${level}`, dataset: { identity: level } }, `${label('identity_', level)}${how}`);
}

/** The live view: who speaks for us now, for how long, the last words, the transfers. */
const liveColumns = [
  [t('dash_col_id'), (c) => link(`#call/${c.id}`, c.id)],
  [t('dash_col_duration'), (c) => (c.agent_joined_at ? seconds(Math.round((Date.now() - Date.parse(c.agent_joined_at)) / 1000)) : badge('created', label('status_', 'created')))],
  [t('dash_col_caller'), (c) => callerName(c)],
  [t('dash_col_channel'), (c) => channel(c)],
  [t('dash_col_identity'), (c) => identity(c)],
  [t('dash_col_language'), (c) => label('language_', c.language)],
  [
    t('dash_col_speaking'),
    (c) =>
      c.taken_over_by
        ? el('span', { class: 'badge taken-over', dataset: { operator: c.taken_over_by } }, t('dash_taken_over_by', { operator: c.taken_over_by }))
        : el('span', { dataset: { persona: c.persona ?? c.department } }, persona(c.persona ?? c.department)),
  ],
  [t('dash_col_last_caption'), (c) => lastCaption(c.last_caption)],
  [t('dash_col_transfers'), (c) => String(c.transfers ?? 0)],
  [t('dash_col_status'), (c) => badge(c.status, label('status_', c.status))],
];

function lastCaption(turn) {
  if (!turn) return '—';
  const who = turn.role === 'agent' ? persona(turn.persona, { nameOnly: true }) : turn.role === 'operator' ? turn.operator_login : t('dash_role_caller');
  return el('span', { class: 'last-caption', dataset: { role: turn.role } }, `${who}: `, el('span', { dir: 'auto' }, turn.text));
}

/** Web or phone, and for a phone call whether we called out (a callback). */
function channel(call) {
  const kind = call.channel ?? 'web';
  const text = kind === 'phone' && call.direction === 'outbound' ? t('dash_channel_callback') : label('channel_', kind);
  return el('span', { class: `badge channel-${kind}`, dataset: { channel: kind } }, text);
}

/** A button that has us phone the customer back about a ticket or a follow-up. */
function callbackButton(path, id) {
  const result = el('span', { class: 'hint', role: 'status' });
  const button = el(
    'button',
    {
      type: 'button',
      id,
      onclick: async () => {
        button.disabled = true;
        const placed = await guarded(async () => (await api(path, { method: 'POST', body: {} })).json());
        button.disabled = false;
        if (placed) result.replaceChildren(t('dash_calling_back'), ' ', link(`#call/${placed.call_id}`, `#${placed.call_id}`));
      },
    },
    t('dash_call_back'),
  );
  return el('span', { class: 'toolbar' }, button, result);
}

function personasVisited(call) {
  const visited = call.personas_visited?.length ? call.personas_visited : [call.department];
  return visited.map((key) => persona(key, { nameOnly: true })).join(LANG === 'ar' ? ' ← ' : ' → ');
}

// -- views ----------------------------------------------------------------------------------

async function viewCalls() {
  const recentSince = new Date(Date.now() - LIVE_WINDOW_MS).toISOString();
  const [active, waiting, ended, unlinked] = await Promise.all([
    getJson('/api/calls/live'),
    getJson(`/api/calls${query({ status: 'created', since: recentSince, limit: 100 })}`),
    getJson(`/api/calls${query({ status: 'ended', limit: 50 })}`),
    getJson(`/api/calls/unlinked${query({ limit: 50 })}`),
  ]);
  const open = (call) => (location.hash = `#call/${call.id}`);
  return [
    section(
      t('dash_live_calls'),
      table('live-calls', liveColumns, [...active, ...waiting], {
        onRow: open,
        empty: t('dash_no_live_calls'),
      }),
    ),
    section(t('dash_recent_calls'), table('recent-calls', callColumns, ended, { onRow: open })),
    section(
      t('dash_to_link'),
      table(
        'unlinked-calls',
        [
          ...callColumns.slice(0, 4),
          [t('dash_col_phone'), (c) => el('span', { dir: 'ltr' }, c.caller_phone ?? '—')],
          [
            t('dash_col_waiting'),
            (c) => t('dash_waiting_items', { tickets: c.tickets.length, quotes: c.quotes.length, follow_ups: c.follow_ups.length }),
          ],
        ],
        unlinked,
        { onRow: open, empty: t('dash_no_unlinked') },
      ),
    ),
  ];
}

async function viewCall(id) {
  const call = await getJson(`/api/calls/${id}`);
  const entered = call.events.filter((event) => event.kind === 'persona_entered');
  const transfers = call.events.filter((event) => event.kind === 'transfer');
  const caller = call.customer_id
    ? link(`#customer/${call.customer_id}`, callerName(call))
    : callerName(call);
  const linkInput = el('input', { id: 'link-customer', type: 'number', min: 1, required: true });
  const linkForm = el(
    'form',
    {
      id: 'link-form',
      class: 'toolbar',
      onsubmit: async (event) => {
        event.preventDefault();
        await guarded(() => api(`/api/calls/${call.id}/link`, { method: 'POST', body: { customer_id: Number(linkInput.value) } }));
        render();
      },
    },
    el('label', { for: 'link-customer' }, t('dash_link_call')),
    linkInput,
    el('button', { type: 'submit', class: 'primary' }, t('dash_link')),
  );
  return [
    el('h1', {}, t('dash_call', { id: call.id })),
    section(
      t('dash_col_details'),
      facts([
        [t('dash_col_status'), badge(call.status, label('status_', call.status))],
        [t('dash_col_started'), when(call.created_at)],
        [t('dash_col_caller'), caller],
        [t('dash_col_identity'), identity(call)],
        [t('dash_col_channel'), channel(call)],
        [t('dash_col_phone'), el('span', { dir: 'ltr' }, call.caller_phone ?? '—')],
        [t('dash_col_dialled'), el('span', { dir: 'ltr' }, call.dialled_number ?? '—')],
        [t('dash_col_email_claimed'), call.caller_email ?? '—'],
        [t('dash_col_interest_claimed'), el('span', { dir: 'auto' }, call.caller_interest ?? '—')],
        [t('dash_col_language'), label('language_', call.language)],
        [t('dash_col_department'), personas[call.department]?.department[LANG] ?? call.department],
        [t('dash_col_duration'), seconds(call.duration_seconds)],
        [t('dash_col_outcome'), call.outcome ?? '—'],
        [t('dash_linked_to'), call.customer_id ? link(`#customer/${call.customer_id}`, `#${call.customer_id}`) : '—'],
      ]),
      call.customer_id || !can('calls.link') ? null : linkForm,
    ),
    section(
      t('dash_timeline'),
      entered.length
        ? el(
            'ol',
            { class: 'timeline', id: 'timeline' },
            entered.map((event) =>
              el('li', { dataset: { persona: event.persona } }, `${persona(event.persona)} · ${clock(event.at)}`),
            ),
          )
        : el('p', { id: 'timeline', class: 'hint' }, personasVisited(call)),
    ),
    section(
      t('dash_transfers'),
      table(
        'transfers',
        [
          [t('dash_col_time'), (e) => clock(e.at)],
          [t('dash_col_from'), (e) => persona(e.data.from)],
          [t('dash_col_to'), (e) => persona(e.data.to)],
          [t('dash_col_reason'), (e) => el('span', { dir: 'auto' }, e.data.reason ?? '—')],
        ],
        transfers.map((event) => ({ ...event, id: `${event.data.from}-${event.data.to}` })),
      ),
    ),
    call.status === 'active' && can('calls.supervise') ? supervisionPanel(call, { api, guarded, rerender: render }) : null,
    section(t('dash_transcript'), transcript(call)),
    await changes('call', call.id),
    section(
      t('dash_events'),
      table(
        'events',
        [
          [t('dash_col_time'), (e) => clock(e.at)],
          [t('dash_col_event'), (e) => label('event_', e.kind)],
          [t('dash_col_persona'), (e) => persona(e.persona)],
          [t('dash_col_details'), (e) => eventDetails(e.data)],
        ],
        call.events,
      ),
    ),
  ];
}

function eventDetails(data) {
  const entries = Object.entries(data ?? {});
  if (!entries.length) return '';
  return el('code', { dir: 'ltr' }, entries.map(([k, v]) => `${k}: ${typeof v === 'object' ? JSON.stringify(v) : v}`).join(' · '));
}

function transcript(call) {
  if (!call.transcript.length) return el('p', { id: 'transcript', class: 'hint' }, t('dash_no_rows'));
  return el(
    'ol',
    { class: 'transcript', id: 'transcript' },
    call.transcript.map((turn) => {
      const language = turn.language || call.language;
      const who = turn.role === 'caller' ? t('dash_caller') : persona(turn.persona, { nameOnly: true });
      return el(
        'li',
        { class: turn.role, dir: direction(language), lang: language, dataset: { role: turn.role, persona: turn.persona ?? '' } },
        el('span', { class: 'who' }, who, turn.interrupted ? ` (${t('dash_interrupted')})` : ''),
        el('p', { class: 'text' }, turn.text),
        turn.role === 'agent' ? latency(turn) : null,
      );
    }),
  );
}

function latency(turn) {
  const parts = [
    ['dash_latency_e2e', turn.e2e_latency],
    ['dash_latency_eot', turn.end_of_turn_delay],
    ['dash_latency_stt', turn.transcription_delay],
    ['dash_latency_llm', turn.llm_ttft],
    ['dash_latency_tts', turn.tts_ttfb],
  ].filter(([, value]) => value != null);
  if (!parts.length) return null;
  return el(
    'span',
    { class: 'latency', dir: LANG === 'ar' ? 'rtl' : 'ltr', lang: LANG, dataset: { e2e: turn.e2e_latency ?? '' } },
    `${t('dash_latency')}: `,
    parts.map(([key, value]) => `${t(key)} ${seconds(value)}`).join(' · '),
  );
}

const customerColumns = [
  [t('dash_col_name'), (c) => link(`#customer/${c.id}`, el('span', { dir: 'auto' }, c.name ?? '—'))],
  [t('dash_col_phone'), (c) => el('span', { dir: 'ltr' }, c.phone ?? '—')],
  [t('dash_col_email'), (c) => c.email ?? '—'],
  [t('dash_col_language'), (c) => label('language_', c.language)],
  [t('dash_col_created'), (c) => when(c.created_at)],
];

let customerSearch = '';

async function viewCustomers() {
  const customers = await getJson(`/api/customers${query({ search: customerSearch, limit: 100 })}`);
  const input = el('input', { id: 'customer-search', type: 'search', value: customerSearch, placeholder: t('dash_search') });
  const form = el(
    'form',
    {
      class: 'toolbar',
      onsubmit: (event) => {
        event.preventDefault();
        customerSearch = input.value.trim();
        render();
      },
    },
    input,
    el('button', { type: 'submit' }, t('dash_search_button')),
  );
  return [form, table('customers', customerColumns, customers, { onRow: (c) => (location.hash = `#customer/${c.id}`) })];
}

const ticketColumns = [
  [t('dash_col_number'), (x) => link(`#ticket/${x.id}`, el('span', { dir: 'ltr' }, x.number))],
  [
    t('dash_col_subject'),
    (x) => {
      const subject = el('span', { dir: 'auto' }, x.subject);
      return x.customer_id == null ? [subject, ' ', badge('identity-claimed', t('dash_unverified'))] : subject;
    },
  ],
  [t('dash_col_category'), (x) => label('category_', x.category)],
  [t('dash_col_priority'), (x) => label('priority_', x.priority)],
  [t('dash_col_status'), (x) => badge(x.status, label('ticket_status_', x.status))],
  [t('dash_col_sla'), (x) => when(x.sla_due_at)],
];

const quoteColumns = [
  [t('dash_col_number'), (q) => el('span', { dir: 'ltr' }, q.number)],
  [t('dash_col_items'), (q) => q.items.map((item) => `${item[`name_${LANG}`]} × ${item.quantity}`).join('، ')],
  [t('dash_col_total'), (q) => el('span', { dir: 'ltr' }, `${number.format(q.total)} ${q.currency}`)],
  [t('dash_col_valid_until'), (q) => when(q.valid_until)],
  [t('dash_col_created'), (q) => when(q.created_at)],
];

async function viewCustomer(id) {
  const customer = await getJson(`/api/customers/${id}`);
  const codeBox = el('p', { id: 'verification-code', hidden: true, dir: 'ltr' });
  const newCode = async () => {
    const issued = await guarded(async () => (await api(`/api/customers/${customer.id}/verification-code`, { method: 'POST', body: {} })).json());
    if (!issued) return;
    codeBox.replaceChildren(el('strong', { class: 'code' }, issued.code), ' ', el('span', { class: 'hint', dir: 'auto' }, t('dash_code_hint', { time: clock(issued.expires_at) })));
    codeBox.hidden = false;
  };
  return [
    el('h1', { dir: 'auto' }, customer.name ?? customer.phone ?? t('dash_customer')),
    section(
      t('dash_customer'),
      facts([
        [t('dash_col_name'), el('span', { dir: 'auto' }, customer.name ?? '—')],
        [t('dash_col_phone'), el('span', { dir: 'ltr' }, customer.phone ?? '—')],
        [t('dash_col_email'), customer.email ?? '—'],
        [t('dash_col_interest'), customer.service_interest ?? '—'],
        [t('dash_col_language'), label('language_', customer.language)],
        [t('dash_col_created'), when(customer.created_at)],
      ]),
    ),
    can('codes.issue')
      ? section(t('dash_verification_code'), el('button', { type: 'button', id: 'new-code', onclick: newCode }, t('dash_new_code')), codeBox)
      : null,
    section(t('dash_calls'), table('customer-calls', callColumns, customer.calls, { onRow: (c) => (location.hash = `#call/${c.id}`) })),
    section(t('dash_tickets'), table('customer-tickets', ticketColumns, customer.tickets, { onRow: (x) => (location.hash = `#ticket/${x.id}`) })),
    section(t('dash_quotes'), table('customer-quotes', quoteColumns, customer.quotes)),
    section(
      t('dash_follow_ups'),
      table(
        'customer-follow-ups',
        [
          [t('dash_col_due'), (f) => when(f.due_at)],
          [t('dash_col_note'), (f) => el('span', { dir: 'auto' }, f.note || '—')],
          [t('dash_calls'), (f) => (f.call_id ? link(`#call/${f.call_id}`, `#${f.call_id}`) : '—')],
          [t('dash_col_action'), (f) => (can('calls.place') && customer.phone ? callbackButton(`/api/follow-ups/${f.id}/callback`, `call-back-follow-up-${f.id}`) : '—')],
        ],
        customer.follow_ups ?? [],
      ),
    ),
    await changes('customer', customer.id),
  ];
}

/** The audit trail of one record, for the roles that may read it. */
async function changes(recordType, recordId) {
  if (!can('audit.read')) return null;
  const rows = await getJson(`/api/audit${query({ record_type: recordType, record_id: recordId, limit: 100 })}`);
  return section(t('dash_changes'), auditTable(`${recordType}-changes`, rows));
}

function auditTable(id, rows) {
  return table(
    id,
    [
      [t('dash_col_time'), (a) => when(a.at)],
      [t('dash_col_operator'), (a) => el('span', { dir: 'ltr' }, a.operator_login)],
      [t('dash_col_action'), (a) => el('code', { dir: 'ltr' }, a.action)],
      [t('dash_col_record'), (a) => `${label('record_', a.record_type)} ${a.record_id ?? ''}`],
      [t('dash_col_details'), (a) => eventDetails(a.details)],
    ],
    rows,
  );
}

let ticketStatus = '';

async function viewTickets() {
  const tickets = await getJson(`/api/tickets${query({ status: ticketStatus, limit: 100 })}`);
  const select = el(
    'select',
    {
      id: 'ticket-status',
      onchange: () => {
        ticketStatus = select.value;
        render();
      },
    },
    el('option', { value: '' }, t('dash_all')),
    TICKET_STATUSES.map((s) => el('option', { value: s, selected: s === ticketStatus }, label('ticket_status_', s))),
  );
  return [
    el('div', { class: 'toolbar' }, el('label', { for: 'ticket-status' }, t('dash_col_status')), select),
    table('tickets', ticketColumns, tickets, { onRow: (x) => (location.hash = `#ticket/${x.id}`) }),
  ];
}

async function viewTicket(id) {
  const ticket = await getJson(`/api/tickets/${id}`);
  const status = el(
    'select',
    { id: 'new-status' },
    TICKET_STATUSES.map((s) => el('option', { value: s, selected: s === ticket.status }, label('ticket_status_', s))),
  );
  const note = el('input', { id: 'status-note', maxlength: 2000 });
  const form = el(
    'form',
    {
      id: 'status-form',
      class: 'toolbar',
      onsubmit: async (event) => {
        event.preventDefault();
        await guarded(() => api(`/api/tickets/${ticket.id}/status`, { method: 'POST', body: { status: status.value, note: note.value } }));
        render();
      },
    },
    el('label', { for: 'new-status' }, t('dash_change_status')),
    status,
    el('label', { for: 'status-note' }, t('dash_note')),
    note,
    el('button', { type: 'submit', class: 'primary' }, t('dash_save')),
  );
  return [
    el('h1', { dir: 'auto' }, t('dash_ticket', { number: ticket.number })),
    section(
      ticket.subject,
      facts([
        [t('dash_col_status'), badge(ticket.status, label('ticket_status_', ticket.status))],
        [t('dash_col_category'), label('category_', ticket.category)],
        [t('dash_col_priority'), label('priority_', ticket.priority)],
        [t('dash_col_sla'), when(ticket.sla_due_at)],
        [
          t('dash_customer'),
          ticket.customer_id == null ? badge('identity-claimed', t('dash_unverified')) : link(`#customer/${ticket.customer_id}`, `#${ticket.customer_id}`),
        ],
        [t('dash_calls'), ticket.call_id ? link(`#call/${ticket.call_id}`, `#${ticket.call_id}`) : '—'],
        [t('dash_description'), el('span', { dir: 'auto' }, ticket.description || '—')],
      ]),
      can('calls.place') && ticket.customer_id != null ? callbackButton(`/api/tickets/${ticket.id}/callback`, 'call-back') : null,
    ),
    section(
      t('dash_history'),
      table(
        'ticket-history',
        [
          [t('dash_col_time'), (h) => when(h.at)],
          [t('dash_col_change'), (h) => `${label('ticket_status_', h.from_status)} ${LANG === 'ar' ? '←' : '→'} ${label('ticket_status_', h.to_status)}`],
          [t('dash_col_note'), (h) => el('span', { dir: 'auto' }, h.note || '—')],
        ],
        ticket.history,
      ),
      can('tickets.write') ? form : null,
    ),
    await changes('ticket', ticket.id),
  ];
}

const METRICS = [
  ['calls_handled', 'dash_m_calls_handled', number.format],
  ['transfers_in', 'dash_m_transfers_in', number.format],
  ['transfers_out', 'dash_m_transfers_out', number.format],
  ['avg_handling_seconds', 'dash_m_avg_handling', seconds],
  ['tickets_created', 'dash_m_tickets', number.format],
  ['quotes_created', 'dash_m_quotes', number.format],
  ['turn_latency_p50', 'dash_m_p50', seconds],
  ['turn_latency_p90', 'dash_m_p90', seconds],
];

async function viewAnalytics() {
  const range = query(analyticsRange);
  const data = await getJson(`/api/analytics/personas${range}`);
  const byPersona = Object.fromEntries(data.personas.map((row) => [row.persona, row]));
  const since = el('input', { id: 'since', type: 'date', value: analyticsRange.since });
  const until = el('input', { id: 'until', type: 'date', value: analyticsRange.until });
  const form = el(
    'form',
    {
      class: 'toolbar',
      onsubmit: (event) => {
        event.preventDefault();
        analyticsRange.since = since.value;
        analyticsRange.until = until.value;
        render();
      },
    },
    el('label', { for: 'since' }, t('dash_from')),
    since,
    el('label', { for: 'until' }, t('dash_to')),
    until,
    el('button', { type: 'submit', class: 'primary' }, t('dash_apply')),
    el('button', { type: 'button', id: 'export-analytics', onclick: () => download(`/api/analytics/personas.csv${range}`, 'ornina-persona-analytics.csv') }, t('dash_export_analytics')),
    el('button', { type: 'button', id: 'export-calls', onclick: () => download(`/api/analytics/calls.csv${range}`, 'ornina-calls.csv') }, t('dash_export_calls')),
  );
  const groups = PERSONA_KEYS.map((key) => ({ key, label: persona(key, { nameOnly: true }) }));
  const series = (field, key) => ({
    key: field,
    label: t(key),
    values: Object.fromEntries(PERSONA_KEYS.map((p) => [p, byPersona[p]?.[field] ?? null])),
  });
  const round = (value) => number.format(value);
  return [
    form,
    el('p', { id: 'calls-in-range' }, t('dash_calls_in_range', { n: number.format(data.calls) })),
    // one row per figure, one column per persona: fits a narrow screen
    table(
      'persona-analytics',
      [
        ['', (metric) => t(metric.key)],
        ...PERSONA_KEYS.map((p) => [
          persona(p),
          (metric) => (byPersona[p]?.[metric.field] == null ? '—' : metric.format(byPersona[p][metric.field])),
        ]),
      ],
      METRICS.map(([field, key, format]) => ({ id: field, field, key, format })),
    ),
    el(
      'div',
      { class: 'grid' },
      barChart({ id: 'chart-calls', title: t('dash_chart_calls'), groups, series: [series('calls_handled', 'dash_m_calls_handled')], format: round }),
      barChart({
        id: 'chart-transfers',
        title: t('dash_chart_transfers'),
        groups,
        series: [series('transfers_in', 'dash_m_transfers_in'), series('transfers_out', 'dash_m_transfers_out')],
        format: round,
      }),
      barChart({ id: 'chart-handling', title: t('dash_chart_handling'), groups, series: [series('avg_handling_seconds', 'dash_m_avg_handling')], format: round }),
      barChart({
        id: 'chart-work',
        title: t('dash_chart_work'),
        groups,
        series: [series('tickets_created', 'dash_m_tickets'), series('quotes_created', 'dash_m_quotes')],
        format: round,
      }),
      barChart({
        id: 'chart-latency',
        title: t('dash_chart_latency'),
        groups,
        series: [series('turn_latency_p50', 'dash_m_p50'), series('turn_latency_p90', 'dash_m_p90')],
        format: round,
      }),
    ),
  ];
}

const ROLES = ['agent', 'supervisor', 'admin'];

async function viewOperators() {
  const operators = await getJson('/api/operators');
  const roleSelect = (id, value) =>
    el('select', { id }, ROLES.map((r) => el('option', { value: r, selected: r === value }, label('role_', r))));
  const login = el('input', { id: 'op-login', required: true, maxlength: 64, dir: 'ltr', autocomplete: 'off' });
  const name = el('input', { id: 'op-name', required: true, maxlength: 120 });
  const role = roleSelect('op-role', 'agent');
  const password = el('input', { id: 'op-password', type: 'password', required: true, minlength: 12, autocomplete: 'new-password', dir: 'ltr' });
  const form = el(
    'form',
    {
      id: 'new-operator',
      class: 'toolbar',
      onsubmit: async (event) => {
        event.preventDefault();
        const body = { login: login.value.trim(), name: name.value.trim(), role: role.value, password: password.value };
        if (await guarded(() => api('/api/operators', { method: 'POST', body }))) render();
      },
    },
    el('label', { for: 'op-login' }, t('dash_login')),
    login,
    el('label', { for: 'op-name' }, t('dash_col_name')),
    name,
    el('label', { for: 'op-role' }, t('dash_col_role')),
    role,
    el('label', { for: 'op-password' }, t('dash_password')),
    password,
    el('button', { type: 'submit', class: 'primary' }, t('dash_create')),
  );
  const change = async (op, body) => {
    if (await guarded(() => api(`/api/operators/${op.id}`, { method: 'PATCH', body }))) render();
  };
  return [
    section(
      t('dash_nav_operators'),
      table(
        'operators',
        [
          [t('dash_col_login'), (op) => el('span', { dir: 'ltr' }, op.login)],
          [t('dash_col_name'), (op) => el('span', { dir: 'auto' }, op.name)],
          [
            t('dash_col_role'),
            (op) => {
              if (op.id === me.id) return label('role_', op.role); // no locking oneself out
              const select = roleSelect(`role-${op.id}`, op.role);
              select.addEventListener('change', () => change(op, { role: select.value }));
              return select;
            },
          ],
          [t('dash_col_active'), (op) => (op.active ? '✓' : badge('identity-claimed', t('dash_disabled')))],
          [
            '',
            (op) =>
              op.id === me.id
                ? ''
                : el('button', { type: 'button', class: 'toggle-active', onclick: () => change(op, { active: !op.active }) }, op.active ? t('dash_disable') : t('dash_enable')),
          ],
        ],
        operators,
      ),
    ),
    section(t('dash_new_operator'), form),
  ];
}

let auditFilter = {};

async function viewAudit() {
  const rows = await getJson(`/api/audit${query({ ...auditFilter, limit: 200 })}`);
  const operators = can('operators.manage') ? await getJson('/api/operators') : [];
  const who = el(
    'select',
    { id: 'audit-operator' },
    el('option', { value: '' }, t('dash_all_operators')),
    operators.map((op) => el('option', { value: op.id, selected: String(op.id) === String(auditFilter.operator_id) }, op.login)),
  );
  const what = el(
    'select',
    { id: 'audit-record' },
    el('option', { value: '' }, t('dash_all_records')),
    ['customer', 'ticket', 'call', 'service', 'operator'].map((r) => el('option', { value: r, selected: r === auditFilter.record_type }, label('record_', r))),
  );
  const form = el(
    'form',
    {
      class: 'toolbar',
      id: 'audit-filter',
      onsubmit: (event) => {
        event.preventDefault();
        auditFilter = { operator_id: who.value, record_type: what.value };
        render();
      },
    },
    who,
    what,
    el('button', { type: 'submit', class: 'primary' }, t('dash_audit_filter')),
    el('button', { type: 'button', id: 'export-audit', onclick: () => download(`/api/audit.csv${query(auditFilter)}`, 'ornina-audit.csv') }, t('dash_export_audit')),
  );
  return [form, auditTable('audit', rows)];
}

async function viewAccount() {
  const keys = await getJson(`/api/operators/${me.id}/keys`);
  const keyName = el('input', { id: 'key-name', required: true, maxlength: 120 });
  const shown = el('p', { id: 'new-key', hidden: true, dir: 'ltr' });
  const form = el(
    'form',
    {
      id: 'key-form',
      class: 'toolbar',
      onsubmit: async (event) => {
        event.preventDefault();
        const created = await guarded(async () => (await api(`/api/operators/${me.id}/keys`, { method: 'POST', body: { name: keyName.value.trim() } })).json());
        if (!created) return;
        await render();
        const box = $('new-key');
        box.replaceChildren(el('code', { class: 'code' }, created.key), ' ', el('span', { class: 'hint', dir: 'auto' }, t('dash_key_once')));
        box.hidden = false;
      },
    },
    el('label', { for: 'key-name' }, t('dash_key_name')),
    keyName,
    el('button', { type: 'submit', class: 'primary' }, t('dash_new_key')),
  );
  const revoke = async (key) => {
    if (await guarded(() => api(`/api/operators/${me.id}/keys/${key.id}`, { method: 'DELETE' }))) render();
  };
  return [
    section(
      t('dash_my_keys'),
      table(
        'keys',
        [
          [t('dash_col_name'), (k) => el('span', { dir: 'auto' }, k.name)],
          [t('dash_col_key'), (k) => el('code', { dir: 'ltr' }, `${k.prefix}…`)],
          [t('dash_col_created'), (k) => when(k.created_at)],
          ['', (k) => (k.revoked_at ? t('dash_revoked') : el('button', { type: 'button', class: 'revoke', onclick: () => revoke(k) }, t('dash_revoke')))],
        ],
        keys,
      ),
      form,
      shown,
    ),
  ];
}

/** Fetch a CSV with the key header and hand it to the browser as a download. */
async function download(path, filename) {
  await guarded(async () => {
    const blob = await (await api(path)).blob();
    const url = URL.createObjectURL(blob);
    const anchor = el('a', { href: url, download: filename, hidden: true });
    document.body.append(anchor);
    anchor.click();
    anchor.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
  });
}

// -- routing and sign-in --------------------------------------------------------------------

const ROUTES = [
  [/^#?(calls)?$/, 'calls', viewCalls],
  [/^#call\/(\d+)$/, 'calls', viewCall],
  [/^#customers$/, 'customers', viewCustomers],
  [/^#customer\/(\d+)$/, 'customers', viewCustomer],
  [/^#tickets$/, 'tickets', viewTickets],
  [/^#ticket\/(\d+)$/, 'tickets', viewTicket],
  [/^#analytics$/, 'analytics', viewAnalytics],
  [/^#operators$/, 'operators', viewOperators],
  [/^#audit$/, 'audit', viewAudit],
  [/^#account$/, 'account', viewAccount],
];

async function guarded(action) {
  try {
    viewError.hidden = true;
    return await action();
  } catch (error) {
    if (error instanceof Unauthorized) {
      signOut({ wrongKey: Boolean(operatorKey()), ended: true, expired: !operatorKey() });
    } else {
      viewError.textContent = t('dash_error', { message: error.message });
      viewError.hidden = false;
    }
    return undefined;
  }
}

async function render() {
  clearTimeout(refreshTimer);
  if (!me) return;
  const hash = location.hash;
  const [pattern, tab, build] = ROUTES.find(([regex]) => regex.test(hash)) ?? ROUTES[0];
  const match = pattern.exec(hash);
  for (const anchor of document.querySelectorAll('nav.tabs a')) {
    if (anchor.dataset.tab === tab) anchor.setAttribute('aria-current', 'page');
    else anchor.removeAttribute('aria-current');
  }
  const ticket = ++renderCount;
  const content = await guarded(() => build(match?.[1]));
  if (ticket !== renderCount || content === undefined) return; // a newer render took over
  view.replaceChildren(...content);
  view.dataset.view = hash.replace(/^#/, '') || 'calls';
  view.dataset.render = String(ticket);
  // Live lists and calls in progress refresh themselves.
  const onList = build === viewCalls;
  const callId = build === viewCall ? Number(match[1]) : null;
  // supervision belongs to its call's page: leaving that page leaves the call
  if (callId === null || !supervising(callId)) await stopSupervision();
  const live = onList || (callId !== null && view.querySelector('.badge.active, .badge.created'));
  // a call being supervised is not re-rendered (its panel holds the live audio and captions)
  if (live && !(callId !== null && supervising(callId))) {
    refreshTimer = setTimeout(render, onList ? LIVE_REFRESH_MS : REFRESH_MS);
  }
}

async function signOut({ wrongKey = false, ended = false, expired = false } = {}) {
  clearTimeout(refreshTimer);
  await stopSupervision();
  if (!ended && !operatorKey() && me?.via === 'session') {
    await api('/api/session', { method: 'DELETE' }).catch(() => {});
  }
  sessionStorage.removeItem(KEY_STORAGE);
  sessionStorage.removeItem(CSRF_STORAGE);
  me = null;
  $('app').hidden = true;
  $('sign-out').hidden = true;
  $('signin-area').hidden = false;
  $('signin-error').hidden = !wrongKey;
  $('account-error').textContent = expired ? t('dash_session_ended') : '';
  $('account-error').hidden = !expired;
  $('key').value = '';
  $('password').value = '';
  $('login').focus();
}

/** Who is signed in (by cookie or key): shows the app with what their role may use. */
async function enter() {
  const response = await fetch('/api/session', {
    headers: operatorKey() ? { 'X-API-Key': operatorKey() } : {},
  });
  if (!response.ok) return false;
  const session = await response.json();
  me = { ...session.operator };
  if (session.csrf_token) sessionStorage.setItem(CSRF_STORAGE, session.csrf_token);
  for (const tab of document.querySelectorAll('nav.tabs a[data-needs]')) {
    const needs = tab.dataset.needs;
    tab.hidden = needs === 'own.keys' ? me.id == null : !can(needs);
  }
  const name = me.via === 'installation' ? t('dash_installation_key') : me.name;
  $('whoami').textContent = t('dash_whoami', { name, role: label('role_', me.role) });
  $('signin-area').hidden = true;
  $('app').hidden = false;
  $('sign-out').hidden = false;
  await render();
  return true;
}

async function signIn(key) {
  sessionStorage.setItem(KEY_STORAGE, key);
  if (!(await enter())) {
    sessionStorage.removeItem(KEY_STORAGE);
    $('signin-error').hidden = false;
  }
}

$('signin').addEventListener('submit', async (event) => {
  event.preventDefault();
  $('sign-in').disabled = true;
  $('signin-error').hidden = true;
  try {
    await signIn($('key').value.trim());
  } finally {
    $('sign-in').disabled = false;
  }
});
$('account-signin').addEventListener('submit', async (event) => {
  event.preventDefault();
  $('sign-in-account').disabled = true;
  $('account-error').hidden = true;
  try {
    sessionStorage.removeItem(KEY_STORAGE);
    const response = await fetch('/api/session', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ login: $('login').value.trim(), password: $('password').value }),
    });
    if (!response.ok) {
      let message = t('dash_account_wrong');
      if (response.status === 429) message = (await response.json()).error.message;
      $('account-error').textContent = message;
      $('account-error').hidden = false;
      return;
    }
    sessionStorage.setItem(CSRF_STORAGE, (await response.json()).csrf_token);
    $('password').value = '';
    await enter();
  } finally {
    $('sign-in-account').disabled = false;
  }
});
$('sign-out').addEventListener('click', () => signOut());
window.addEventListener('hashchange', () => {
  $('lang-switch').hash = location.hash; // the other language opens the same view
  render();
});
$('lang-switch').hash = location.hash;

personas = await loadPersonas();
if (!(await enter().catch(() => false))) signOut({ ended: true });
