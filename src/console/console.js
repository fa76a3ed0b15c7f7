// The sluice console: plain DOM, no framework, no build step. Every value from the server is
// set as text (textContent), never as HTML. The admin token lives in this tab's sessionStorage
// and travels only as the Authorization header.

const TOKEN_KEY = 'sluice-token';
const STATUSES = ['running', 'succeeded', 'failed', 'aborted', 'refused', 'skipped', 'abandoned'];
const ADVANCED = new Set(['batchSize']);

const state = {
  token: sessionStorage.getItem(TOKEN_KEY),
  pipelines: [],
  allowWrites: false,
  pollers: [],
};

const $ = (id) => document.getElementById(id);
const number = (n) => Number(n).toLocaleString('en-US');

/** `h('td', { className: 'num' }, '12')`: an element with properties and text or child nodes. */
function h(tag, props = {}, ...children) {
  const node = Object.assign(document.createElement(tag), props);
  for (const child of children) node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  return node;
}

// --- the API -------------------------------------------------------------------------------

class SignedOut extends Error {}

async function api(path, { method = 'GET', body } = {}) {
  const headers = { Authorization: `Bearer ${state.token}`, Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const res = await fetch(path, { method, headers, cache: 'no-store', body: body === undefined ? undefined : JSON.stringify(body) });
  const json = (res.headers.get('content-type') ?? '').includes('application/json') ? await res.json() : null;
  if (res.status === 401) throw new SignedOut('That token was not accepted.');
  if (res.status === 429) throw new Error(`Too many failed sign-ins from this address; wait ${res.headers.get('retry-after') ?? 'a few'} seconds.`);
  return { status: res.status, ok: res.ok, body: json };
}

// --- signing in and out ----------------------------------------------------------------------

async function signIn(token) {
  state.token = token;
  const [pipelines, consoleInfo] = await Promise.all([api('/api/pipelines'), api('/api/console')]);
  state.pipelines = pipelines.body;
  state.allowWrites = consoleInfo.body.allowWrites === true;
  sessionStorage.setItem(TOKEN_KEY, token);
  $('nav').hidden = false;
}

function signOut(message = '') {
  sessionStorage.removeItem(TOKEN_KEY);
  state.token = null;
  $('nav').hidden = true;
  $('signin-error').textContent = message;
  $('token').value = '';
  if (location.hash !== '#signin') location.hash = '#signin';
  else route();
}

$('signin-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  const token = $('token').value.trim();
  $('signin-error').textContent = '';
  if (!token) {
    $('signin-error').textContent = 'Enter the admin token.';
    $('token').focus();
    return;
  }
  try {
    await signIn(token);
    location.hash = '#pipelines';
  } catch (error) {
    state.token = null;
    $('signin-error').textContent = error.message;
    $('token').setAttribute('aria-invalid', 'true');
    $('token').focus();
  }
});

$('sign-out').addEventListener('click', () => signOut());

// --- views -------------------------------------------------------------------------------------

function stopPolling() {
  for (const timer of state.pollers) clearInterval(timer);
  state.pollers = [];
}

function show(view, title) {
  for (const section of document.querySelectorAll('.view')) section.hidden = section.id !== `view-${view}`;
  for (const link of document.querySelectorAll('nav a[data-view]')) {
    if (link.dataset.view === view || (view === 'pipeline' && link.dataset.view === 'pipelines')) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  document.title = `${title} · sluice console`;
}

async function route() {
  stopPolling();
  if (!state.token) return show('signin', 'Sign in');
  try {
    if (!state.pipelines.length) await signIn(state.token);
    const [view, name] = location.hash.slice(1).split('/');
    if (view === 'pipeline' && name) return showPipeline(decodeURIComponent(name));
    if (view === 'runs') return await showRuns();
    return showPipelines();
  } catch (error) {
    if (error instanceof SignedOut) return signOut(error.message);
    throw error;
  }
}

window.addEventListener('hashchange', () => {
  route().then(() => $('main').focus({ preventScroll: false }));
});

// --- the pipeline list ---------------------------------------------------------------------

function writes(pipeline) {
  return !pipeline.output;
}

function showPipelines() {
  const list = $('pipeline-list');
  list.replaceChildren(
    ...state.pipelines.map((p) =>
      h(
        'li',
        { className: 'card' },
        h('h2', {}, p.name),
        h('p', {}, p.description),
        h('p', {}, h('span', { className: writes(p) ? 'badge writes' : 'badge' }, writes(p) ? 'writes to the database' : p.output.extension.toUpperCase())),
        h('p', { className: 'open' }, h('a', { href: `#pipeline/${encodeURIComponent(p.name)}` }, writes(p) ? `Open ${p.name}` : `Export ${p.name}`)),
      ),
    ),
  );
  show('pipelines', 'Pipelines');
}

// --- one pipeline: its form ------------------------------------------------------------------

/** `soldFrom` -> `Sold from`. */
function labelOf(name) {
  const words = name.replace(/([A-Z])/g, ' $1').toLowerCase();
  return words.charAt(0).toUpperCase() + words.slice(1);
}

function input(param, id) {
  const common = { id, name: param.name };
  switch (param.type) {
    case 'integer':
      return h('input', { ...common, type: 'number', step: '1', inputMode: 'numeric', ...(param.min !== undefined ? { min: String(param.min) } : {}), ...(param.max !== undefined ? { max: String(param.max) } : {}), value: param.default === undefined ? '' : String(param.default) });
    case 'date':
      // Text, not a date picker: the server's check (and its error text) decides, as in the CLI.
      return h('input', { ...common, type: 'text', inputMode: 'numeric', placeholder: 'YYYY-MM-DD', autocomplete: 'off', value: param.default ?? '' });
    case 'boolean':
      return h('input', { ...common, type: 'checkbox', checked: param.default === true });
    case 'enum': {
      const select = h('select', common);
      if (param.default === undefined) select.append(h('option', { value: '' }, 'Any'));
      for (const value of param.values) select.append(h('option', { value, selected: value === param.default }, value));
      return select;
    }
    default:
      return h('input', { ...common, type: 'text', value: param.default ?? '', autocomplete: 'off' });
  }
}

function field(param) {
  const id = `param-${param.name}`;
  const control = input(param, id);
  const help = h('p', { className: 'help', id: `${id}-help` }, `${param.description} (${param.expected}${param.default !== undefined ? `; default ${param.default}` : ''})`);
  const error = h('p', { className: 'error', id: `${id}-error`, role: 'alert' });
  control.setAttribute('aria-describedby', `${id}-help ${id}-error`);
  const label = h('label', { htmlFor: id }, labelOf(param.name));
  if (param.type === 'boolean') return h('div', { className: 'field check' }, control, label, help, error);
  return h('div', { className: 'field' }, label, control, help, error);
}

/** The form's values as the API takes them: an empty box is "not given", never "empty". */
function formValues(pipeline) {
  const values = {};
  for (const param of pipeline.params) {
    const control = $(`param-${param.name}`);
    if (!control) continue;
    if (param.type === 'boolean') {
      if (control.checked !== (param.default === true)) values[param.name] = control.checked;
    } else if (control.value.trim() !== '') values[param.name] = control.value.trim();
  }
  return values;
}

function clearErrors() {
  for (const node of document.querySelectorAll('#pipeline-form .error')) node.textContent = '';
  for (const node of document.querySelectorAll('#pipeline-form [aria-invalid]')) node.removeAttribute('aria-invalid');
  $('form-status').textContent = '';
}

/** Shows the server's error beside the field it names (the same text the CLI prints), or above the buttons. */
function showError(body) {
  const message = body?.error ?? 'The request failed.';
  const control = body?.param ? $(`param-${body.param}`) : null;
  if (!control) {
    $('form-error').textContent = message;
    return;
  }
  $(`param-${body.param}-error`).textContent = message;
  control.setAttribute('aria-invalid', 'true');
  control.closest('details')?.setAttribute('open', '');
  control.focus();
}

async function download(pipeline) {
  clearErrors();
  const reply = await api('/api/downloads', { method: 'POST', body: { pipeline: pipeline.name, params: formValues(pipeline) } });
  if (!reply.ok) return showError(reply.body);
  const link = h('a', { href: reply.body.url, download: reply.body.fileName });
  document.body.append(link);
  link.click();
  link.remove();
  $('form-status').textContent = `Downloading ${reply.body.fileName}. The file streams to your downloads folder; Runs shows its progress.`;
}

/** A run's outcome in a few lines: its status and figures, and what the pipeline noted (a pre-flight's counts). */
function summaryText(summary) {
  const lines = [`${summary.status}: ${number(summary.rows)} rows in ${(summary.durationMs / 1000).toFixed(2)} s`];
  for (const [name, value] of Object.entries(summary.notes ?? {})) {
    lines.push(`${labelOf(name)}:`);
    if (value && typeof value === 'object') for (const [key, n] of Object.entries(value)) lines.push(`  ${labelOf(key)}: ${typeof n === 'number' ? number(n) : JSON.stringify(n)}`);
    else lines.push(`  ${String(value)}`);
  }
  for (const [kind, count] of Object.entries(summary.warnings ?? {})) lines.push(`Warning: ${kind} (${number(count)})`);
  return lines.join('\n');
}

async function runWriter(pipeline, dryRun) {
  clearErrors();
  const params = { ...formValues(pipeline), ...(dryRun === undefined ? {} : { dryRun }) };
  $('form-status').textContent = dryRun ? 'Dry run going…' : 'Running…';
  const reply = await api(`/api/pipelines/${encodeURIComponent(pipeline.name)}/run`, { method: 'POST', body: { params } });
  $('form-status').textContent = '';
  const summary = reply.body?.summary;
  $('run-summary').hidden = !summary;
  $('run-summary').textContent = summary ? summaryText(summary) : '';
  if (!reply.ok) return showError(reply.body);
  $('form-status').textContent = dryRun ? 'Dry run done: nothing was changed. Check the figures, then run it for real.' : 'Done.';
  return summary;
}

function writerActions(pipeline) {
  if (!state.allowWrites) {
    return [h('p', { className: 'help' }, `This pipeline writes to the database. Run it with \`sluice run ${pipeline.name}\`, or start the server with --console-writes to run it from here.`)];
  }
  const hasDryRun = pipeline.params.some((p) => p.name === 'dryRun');
  const real = h('button', { type: 'button', disabled: hasDryRun }, 'Run for real');
  real.addEventListener('click', async () => {
    if (!window.confirm(`Run ${pipeline.name} for real? It changes the database.`)) return;
    await runWriter(pipeline, hasDryRun ? false : undefined);
  });
  if (!hasDryRun) return [real];
  const dry = h('button', { type: 'button', className: 'secondary' }, 'Dry run first');
  dry.addEventListener('click', async () => {
    const summary = await runWriter(pipeline, true);
    real.disabled = !summary;
  });
  return [dry, real];
}

function showPipeline(name) {
  const pipeline = state.pipelines.find((p) => p.name === name);
  if (!pipeline) return showPipelines();
  $('pipeline-title').textContent = pipeline.name;
  $('pipeline-description').textContent = pipeline.description;
  const parts = [['Source', pipeline.source], ...pipeline.transforms.map((t) => ['Transform', t]), ['Sink', pipeline.sink]];
  if (pipeline.requireRows) parts.push(['Requires', 'at least one row (no file is made otherwise)']);
  $('pipeline-parts').replaceChildren(...parts.flatMap(([term, text]) => [h('dt', {}, term), h('dd', {}, text)]));
  const visible = pipeline.params.filter((p) => !ADVANCED.has(p.name) && p.name !== 'dryRun');
  const advanced = pipeline.params.filter((p) => ADVANCED.has(p.name));
  $('pipeline-fields').replaceChildren(h('legend', {}, 'Parameters'), ...(visible.length ? visible.map(field) : [h('p', { className: 'help' }, 'This pipeline takes no parameters.')]));
  $('pipeline-advanced-fields').replaceChildren(...advanced.map(field));
  $('pipeline-advanced').hidden = advanced.length === 0;
  $('pipeline-advanced').removeAttribute('open');
  $('run-summary').hidden = true;
  clearErrors();
  const form = $('pipeline-form');
  const actions = writes(pipeline) ? writerActions(pipeline) : [h('button', { type: 'submit' }, `Download ${pipeline.output.extension.toUpperCase()}`)];
  $('pipeline-actions').replaceChildren(...actions);
  form.onsubmit = (event) => {
    event.preventDefault();
    if (!writes(pipeline)) download(pipeline).catch(fail);
  };
  show('pipeline', pipeline.name);
}

// --- runs ---------------------------------------------------------------------------------------

function duration(ms) {
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const s = Math.round(ms / 1000);
  return s < 3600 ? `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s` : `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

const when = (iso) => new Date(iso).toLocaleString();

function runRow(run) {
  const took = run.finishedAt ? duration(Date.parse(run.finishedAt) - Date.parse(run.startedAt)) : '';
  const outcome = run.errorMessage ? `${run.errorCode ?? ''} ${run.errorMessage}`.trim() : run.output ?? '';
  return h(
    'tr',
    {},
    h('td', {}, when(run.startedAt)),
    h('td', {}, run.job ? `${run.pipeline} (${run.job})` : run.pipeline),
    h('td', { className: `st-${run.status}` }, run.status),
    h('td', {}, run.trigger),
    h('td', { className: 'wrap' }, run.who),
    h('td', { className: 'num' }, number(run.rows)),
    h('td', { className: 'num' }, took),
    h('td', { className: 'wrap' }, outcome),
  );
}

function runningRow(run) {
  const progress = run.progress ?? { rows: run.rows, rowsPerSecond: 0, expectedRows: null };
  const expected = progress.expectedRows;
  let meter = '';
  if (expected) {
    const eta = progress.rowsPerSecond > 0 ? ` ETA ${duration(((expected - progress.rows) / progress.rowsPerSecond) * 1000)}` : '';
    meter = h('span', {}, h('progress', { max: expected, value: Math.min(progress.rows, expected) }), ` ${Math.floor((100 * progress.rows) / expected)}%${eta}`);
  }
  return h(
    'tr',
    {},
    h('td', {}, run.pipeline),
    h('td', { className: 'wrap' }, run.who),
    h('td', {}, when(run.startedAt)),
    h('td', { className: 'num rows' }, number(progress.rows)),
    h('td', { className: 'num' }, `${number(progress.rowsPerSecond)} rows/s`),
    h('td', {}, meter || `${number(progress.bytes ?? run.bytes)} bytes`),
  );
}

async function refreshRunning() {
  const reply = await api('/api/runs?status=running&limit=100');
  const runs = reply.ok ? reply.body : [];
  $('running-table').tBodies[0].replaceChildren(...runs.map(runningRow));
  $('running-table').closest('.table-wrap').hidden = runs.length === 0;
  $('running-empty').hidden = runs.length > 0;
  return runs.length;
}

async function refreshHistory() {
  const filter = new FormData($('runs-filter'));
  const query = new URLSearchParams([...filter].filter(([, value]) => value !== ''));
  const reply = await api(`/api/runs?${query}`);
  $('runs-error').textContent = reply.ok ? '' : reply.body?.error ?? 'The history could not be read.';
  $('runs-table').tBodies[0].replaceChildren(...(reply.ok ? reply.body.map(runRow) : []));
}

function fillFilters() {
  const pipelines = $('filter-pipeline');
  if (pipelines.options.length === 1) for (const p of state.pipelines) pipelines.append(h('option', { value: p.name }, p.name));
  const statuses = $('filter-status');
  if (statuses.options.length === 1) for (const s of STATUSES) statuses.append(h('option', { value: s }, s));
}

$('runs-filter').addEventListener('submit', (event) => {
  event.preventDefault();
  refreshHistory().catch(fail);
});

async function showRuns() {
  fillFilters();
  show('runs', 'Runs');
  let running = await refreshRunning();
  await refreshHistory();
  // Live progress: the running table every second; the history when a run has ended.
  state.pollers.push(
    setInterval(async () => {
      try {
        const now = await refreshRunning();
        if (now !== running) await refreshHistory();
        running = now;
      } catch (error) {
        fail(error);
      }
    }, 1000),
  );
}

function fail(error) {
  if (error instanceof SignedOut) return signOut(error.message);
  $('form-error').textContent = error.message;
  $('runs-error').textContent = error.message;
}

route().catch(fail);
