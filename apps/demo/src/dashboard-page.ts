/**
 * The dashboard: one static page (plain HTML, CSS and JS, no build step).
 * It logs in, drives the API and updates live from the event stream (SSE)
 * and a once-a-second stats poll. Every dynamic text is set with
 * `textContent`, never parsed as HTML.
 */
export function dashboardPage(backendLabel: string): string {
  return PAGE.replace('__BACKEND__', escapeHtml(backendLabel));
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);
}

const PAGE = /* html */ `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>redbrick demo</title>
<style>
  :root { --brick: #b3412c; --ok: #2e7d32; --bad: #c62828; --muted: #666; --line: #e3ded8; }
  * { box-sizing: border-box; }
  body { margin: 0; font: 14px/1.45 system-ui, -apple-system, Segoe UI, Roboto, sans-serif; background: #faf8f6; color: #222; }
  header { display: flex; flex-wrap: wrap; gap: 12px; align-items: center; padding: 12px 20px; background: #fff; border-bottom: 1px solid var(--line); }
  header h1 { font-size: 18px; margin: 0; color: var(--brick); }
  .badge { display: inline-block; padding: 2px 8px; border-radius: 10px; background: #f1ece7; font-size: 12px; }
  .badge.live { background: #e3f3e4; color: var(--ok); }
  .badge.off { background: #fbe4e4; color: var(--bad); }
  .spacer { flex: 1; }
  main { display: grid; grid-template-columns: repeat(auto-fill, minmax(330px, 1fr)); gap: 14px; padding: 16px 20px; }
  section { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 12px 14px; }
  section h2 { font-size: 14px; margin: 0 0 8px; text-transform: uppercase; letter-spacing: .04em; color: #555; }
  input, select, textarea, button { font: inherit; }
  input, select, textarea { padding: 4px 6px; border: 1px solid #ccc; border-radius: 4px; }
  textarea { width: 100%; height: 60px; }
  button { padding: 4px 10px; border: 1px solid var(--brick); background: var(--brick); color: #fff; border-radius: 4px; cursor: pointer; }
  button.secondary { background: #fff; color: var(--brick); }
  .row { display: flex; gap: 6px; align-items: center; flex-wrap: wrap; margin: 4px 0; }
  .muted { color: var(--muted); font-size: 12px; }
  .big { font-size: 22px; font-weight: 600; }
  .banner { padding: 6px 8px; border-radius: 6px; background: #fbe4e4; color: var(--bad); font-weight: 600; }
  ul.jobs, ul.events { list-style: none; margin: 0; padding: 0; max-height: 240px; overflow: auto; }
  ul.jobs li { margin: 4px 0; }
  ul.jobs progress { width: 140px; vertical-align: middle; }
  ul.events li { border-bottom: 1px solid #f0ebe6; padding: 3px 0; font-size: 12px; }
  ul.events .t { color: var(--muted); margin-right: 6px; }
  table { width: 100%; border-collapse: collapse; font-size: 12px; }
  td, th { text-align: left; padding: 3px 4px; border-bottom: 1px solid #f0ebe6; }
  .bar { height: 8px; background: #eee; border-radius: 4px; overflow: hidden; }
  .bar > div { height: 100%; background: var(--brick); }
  svg { display: block; width: 100%; height: 90px; background: #fcfbfa; border: 1px solid #f0ebe6; border-radius: 4px; }
  .legend span { margin-right: 10px; }
  .sw { display: inline-block; width: 10px; height: 10px; border-radius: 2px; vertical-align: middle; margin-right: 3px; }
  dl { display: grid; grid-template-columns: auto 1fr; gap: 2px 10px; margin: 0; font-size: 13px; }
  dt { color: var(--muted); }
  dd { margin: 0; }
  pre { margin: 0; font-size: 12px; white-space: pre-wrap; word-break: break-word; }
  [hidden] { display: none !important; }
</style>
</head>
<body>
<header>
  <h1>redbrick demo</h1>
  <span class="badge">backend: <strong id="backend">__BACKEND__</strong></span>
  <span class="badge off" id="live">offline</span>
  <span class="spacer"></span>
  <form id="login-form" class="row">
    <select id="tenant" aria-label="tenant"><option value="acme">Acme AI</option><option value="globex">Globex Labs</option></select>
    <input id="user" placeholder="user id (e.g. ada)" aria-label="user id" required>
    <button type="submit">Log in</button>
    <span id="login-error" class="muted"></span>
  </form>
  <span id="whoami-box" class="row" hidden>logged in as <strong id="whoami"></strong>
    <button type="button" class="secondary" id="logout">Log out</button></span>
</header>
<main id="app" hidden>
  <section id="documents-panel">
    <h2>Documents → queue → worker</h2>
    <form id="doc-form">
      <div class="row"><input id="doc-title" placeholder="title" value="Quarterly report" required>
        <input id="doc-workspace" placeholder="workspace" value="research" size="10"></div>
      <textarea id="doc-text">Revenue grew in every region. The assistant summarizes this document in five steps and records the tokens it used.</textarea>
      <div class="row"><button type="submit" id="doc-submit">Submit document</button><span id="doc-status" class="muted"></span></div>
    </form>
    <ul class="jobs" id="jobs"></ul>
    <div class="muted">queue (all tenants): <span id="queue-counts">–</span></div>
  </section>

  <section id="ratelimit-panel">
    <h2>Rate limits</h2>
    <div class="row"><button type="button" id="burst">Send 40 requests</button>
      <span>this page: <strong id="rl-allowed">0</strong> ok · <strong id="rl-denied">0</strong> × 429</span></div>
    <div id="rl-banner" class="banner" hidden></div>
    <div class="muted" id="rl-policy"></div>
    <div class="muted">Decisions per second, last 60 s (this instance, your tenant):</div>
    <svg id="rl-chart" viewBox="0 0 300 90" preserveAspectRatio="none" role="img" aria-label="rate-limit decisions per second"></svg>
    <div class="legend muted"><span><i class="sw" style="background:#2e7d32"></i>allowed <b id="rl-total-allowed">0</b></span><span><i class="sw" style="background:#c62828"></i>denied <b id="rl-total-denied">0</b></span></div>
  </section>

  <section id="cache-panel">
    <h2>Slow upstream behind the cache</h2>
    <div class="row">
      <button type="button" class="secondary lookup" data-topic="model-catalog">model-catalog</button>
      <button type="button" class="secondary lookup" data-topic="gpu-pricing">gpu-pricing</button>
      <button type="button" id="stampede">Stampede ×10 (fresh topic)</button>
    </div>
    <div class="muted" id="cache-last">–</div>
    <dl id="cache-stats"><dt>hit rate</dt><dd id="cache-hitrate">–</dd><dt>hits / misses</dt><dd id="cache-hm">–</dd><dt>stale served</dt><dd id="cache-stale">–</dd><dt>upstream calls</dt><dd id="cache-upstream">–</dd></dl>
  </section>

  <section id="checkout-panel">
    <h2>Lock-protected checkout</h2>
    <div class="row"><button type="button" id="checkout">Checkout</button><button type="button" class="secondary" id="checkout-10">10 at once</button></div>
    <div>tenant checkouts: <span class="big" id="checkout-count">0</span></div>
    <div class="muted" id="checkout-last"></div>
  </section>

  <section id="usage-panel">
    <h2>Usage this month</h2>
    <table><thead><tr><th>workspace</th><th>tokens</th><th>cost</th><th>budget left</th></tr></thead><tbody id="usage"></tbody></table>
    <div class="muted" id="usage-empty">no usage yet: submit a document</div>
  </section>

  <section id="profile-panel">
    <h2>Profile &amp; state (tenant repos)</h2>
    <form id="profile-form" class="row"><input id="display-name" placeholder="display name"><button type="submit" class="secondary">Save name</button></form>
    <form id="prefs-form" class="row"><label>theme <select id="theme"><option>light</option><option>dark</option></select></label><button type="submit" class="secondary">Save preference</button></form>
    <form id="reminder-form" class="row"><input id="reminder-text" value="stretch your legs" size="14"><label>in <input id="reminder-seconds" type="number" value="3" min="1" max="3600" style="width:56px"> s</label><button type="submit" class="secondary">Remind me</button></form>
    <pre id="me"></pre>
  </section>

  <section id="events-panel">
    <h2>Recent events</h2>
    <div class="muted">open event streams on this instance: <span id="streams">–</span></div>
    <ul class="events" id="events"></ul>
  </section>
</main>
<script>
(() => {
  const $ = (id) => document.getElementById(id);
  const state = { allowed: 0, denied: 0, jobs: new Map(), events: [], source: null, poll: null, loggedIn: false };

  async function api(method, path, body) {
    const init = { method, headers: {} };
    if (body !== undefined) { init.headers['content-type'] = 'application/json'; init.body = JSON.stringify(body); }
    let res;
    try { res = await fetch(path, init); } catch (e) { return { status: 0, body: { error: { message: String(e) } } }; }
    let data = null;
    try { data = await res.json(); } catch { data = null; }
    const policy = res.headers.get('ratelimit');
    if (policy && path !== '/api/stats') $('rl-policy').textContent = 'RateLimit: ' + policy;
    if (res.status === 429) {
      state.denied++;
      const retry = res.headers.get('retry-after');
      const banner = $('rl-banner');
      banner.hidden = false;
      banner.textContent = '429 Too Many Requests' + (retry ? ' — Retry-After: ' + retry + ' s' : '') + (data && data.error ? ' (' + data.error.message + ')' : '');
    } else if (res.ok && path !== '/api/stats') {
      state.allowed++;
    }
    $('rl-allowed').textContent = String(state.allowed);
    $('rl-denied').textContent = String(state.denied);
    return { status: res.status, body: data };
  }

  function errorText(r) { return r.body && r.body.error ? r.body.error.code + ': ' + r.body.error.message : 'HTTP ' + r.status; }

  function showLoggedIn(me) {
    state.loggedIn = true;
    $('login-form').hidden = true;
    $('whoami-box').hidden = false;
    $('whoami').textContent = me.displayName + ' (' + me.user + ' @ ' + me.tenant + ')';
    $('app').hidden = false;
    connectEvents();
    refreshMe();
    pollStats();
    if (!state.poll) state.poll = setInterval(pollStats, 1000);
  }

  function showLoggedOut() {
    state.loggedIn = false;
    $('login-form').hidden = false;
    $('whoami-box').hidden = true;
    $('app').hidden = true;
    if (state.source) { state.source.close(); state.source = null; }
    if (state.poll) { clearInterval(state.poll); state.poll = null; }
    setLive(false);
  }

  function setLive(on) { const el = $('live'); el.textContent = on ? 'live' : 'offline'; el.className = 'badge ' + (on ? 'live' : 'off'); }

  function connectEvents() {
    if (state.source) return;
    const source = new EventSource('/api/events');
    state.source = source;
    source.addEventListener('hello', () => setLive(true));
    source.addEventListener('demo', (e) => onEvent(JSON.parse(e.data)));
    source.onerror = () => setLive(false);
  }

  function onEvent(event) {
    state.events.unshift(event);
    state.events.length = Math.min(state.events.length, 50);
    renderEvents();
    const d = event.data || {};
    if (event.type === 'job.queued') jobRow(d.jobId, d.title, 0);
    if (event.type === 'job.progress') jobRow(d.jobId, d.title, d.progress);
    if (event.type === 'job.completed') { jobRow(d.jobId, d.title, 100, d.tokens + ' tokens, $' + Number(d.cost).toFixed(4)); refreshMe(); }
    if (event.type === 'job.failed') jobRow(d.jobId, d.title, undefined, 'failed: ' + d.message);
    if (event.type === 'checkout') $('checkout-count').textContent = String(d.count);
  }

  function jobRow(id, title, progress, note) {
    if (!id) return;
    let row = state.jobs.get(id);
    if (!row) {
      row = document.createElement('li');
      row.dataset.jobId = id;
      const name = document.createElement('span'); name.className = 'title';
      const bar = document.createElement('progress'); bar.max = 100; bar.value = 0;
      const pct = document.createElement('span'); pct.className = 'pct';
      const extra = document.createElement('span'); extra.className = 'muted note';
      row.append(name, ' ', bar, ' ', pct, ' ', extra);
      $('jobs').prepend(row);
      state.jobs.set(id, row);
    }
    if (title) row.querySelector('.title').textContent = title;
    const bar = row.querySelector('progress');
    if (typeof progress === 'number' && progress >= bar.value) {
      bar.value = progress;
      row.querySelector('.pct').textContent = progress + '%';
    }
    if (note) row.querySelector('.note').textContent = note;
  }

  function renderEvents() {
    const list = $('events');
    list.replaceChildren(...state.events.map((event) => {
      const li = document.createElement('li');
      const t = document.createElement('span'); t.className = 't';
      t.textContent = new Date(event.at).toLocaleTimeString();
      const text = document.createElement('span');
      text.textContent = describe(event);
      li.append(t, text);
      return li;
    }));
  }

  function describe(event) {
    const d = event.data || {};
    switch (event.type) {
      case 'login': return d.user + ' logged in';
      case 'job.queued': return d.user + ' queued "' + d.title + '"';
      case 'job.progress': return '"' + d.title + '" ' + d.progress + '%';
      case 'job.completed': return '"' + d.title + '" done: ' + d.tokens + ' tokens, $' + Number(d.cost).toFixed(4) + ' (' + d.workspace + ')';
      case 'job.failed': return '"' + d.title + '" failed: ' + d.message;
      case 'checkout': return d.user + ' checked out #' + d.count + ' (fence ' + d.fence + ')';
      case 'reminder': return 'reminder for ' + d.user + ': ' + d.text;
      default: return event.type + ' ' + JSON.stringify(d);
    }
  }

  async function refreshMe() {
    const r = await api('GET', '/api/me');
    if (r.status === 200) {
      const { profile, handlerState, sharedStates } = r.body;
      $('me').textContent = JSON.stringify({ profile, handlerState, sharedStates }, null, 1);
      if (profile && profile.displayName && document.activeElement !== $('display-name')) $('display-name').value = profile.displayName;
    }
  }

  let firstStats = true;
  async function pollStats() {
    if (!state.loggedIn) return;
    const r = await api('GET', '/api/stats');
    if (r.status === 401) return showLoggedOut();
    if (r.status !== 200) return;
    const s = r.body;
    $('backend').textContent = s.backend;
    $('streams').textContent = String(s.streams);
    const c = s.queue.counts;
    $('queue-counts').textContent = 'waiting ' + c.waiting + ' · active ' + c.active + ' · delayed ' + c.delayed + ' · completed ' + c.completed + ' · failed ' + c.failed;
    $('cache-hitrate').textContent = (s.cache.hitRate * 100).toFixed(0) + '%';
    $('cache-hm').textContent = s.cache.hits + ' / ' + s.cache.misses + ' (in process ' + s.cache.l1Hits + ', backend ' + s.cache.l2Hits + ')';
    $('cache-stale').textContent = String(s.cache.staleServed);
    $('cache-upstream').textContent = String(s.cache.upstreamCalls);
    $('checkout-count').textContent = String(s.checkout.count);
    $('rl-total-allowed').textContent = String(s.rateLimits.allowed);
    $('rl-total-denied').textContent = String(s.rateLimits.denied);
    drawChart(s.rateLimits.timeline);
    renderUsage(s.usage);
    if (firstStats) { firstStats = false; state.events = s.recent.slice(); renderEvents(); }
  }

  function drawChart(timeline) {
    const svg = $('rl-chart');
    const ns = 'http://www.w3.org/2000/svg';
    const max = Math.max(5, ...timeline.map((p) => p.allowed + p.denied));
    const w = 300 / timeline.length;
    const nodes = [];
    timeline.forEach((p, i) => {
      const ha = (p.allowed / max) * 86, hd = (p.denied / max) * 86;
      for (const [h, y, color] of [[ha, 88 - ha, '#2e7d32'], [hd, 88 - ha - hd, '#c62828']]) {
        if (h <= 0) continue;
        const r = document.createElementNS(ns, 'rect');
        r.setAttribute('x', String(i * w + 0.5)); r.setAttribute('width', String(Math.max(1, w - 1)));
        r.setAttribute('y', String(y)); r.setAttribute('height', String(h)); r.setAttribute('fill', color);
        nodes.push(r);
      }
    });
    const axis = document.createElementNS(ns, 'line');
    axis.setAttribute('x1', '0'); axis.setAttribute('x2', '300'); axis.setAttribute('y1', '88'); axis.setAttribute('y2', '88'); axis.setAttribute('stroke', '#ccc');
    const label = document.createElementNS(ns, 'text');
    label.setAttribute('x', '2'); label.setAttribute('y', '10'); label.setAttribute('font-size', '9'); label.setAttribute('fill', '#888');
    label.textContent = max + ' req/s';
    svg.replaceChildren(axis, label, ...nodes);
  }

  function renderUsage(rows) {
    $('usage-empty').hidden = rows.length > 0;
    $('usage').replaceChildren(...rows.map((u) => {
      const tr = document.createElement('tr');
      const cells = [u.workspace, String(u.tokens), '$' + u.cost.toFixed(4)];
      for (const text of cells) { const td = document.createElement('td'); td.textContent = text; tr.append(td); }
      const td = document.createElement('td');
      const bar = document.createElement('div'); bar.className = 'bar';
      const fill = document.createElement('div'); fill.style.width = Math.min(100, (u.tokens / u.budget) * 100).toFixed(1) + '%';
      bar.append(fill);
      const left = document.createElement('span'); left.className = 'muted'; left.textContent = u.remaining + ' of ' + u.budget;
      td.append(bar, left);
      tr.append(td);
      return tr;
    }));
  }

  $('login-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    const r = await api('POST', '/api/login', { tenant: $('tenant').value, user: $('user').value.trim() });
    if (r.status === 200) { $('login-error').textContent = ''; showLoggedIn(r.body); }
    else $('login-error').textContent = errorText(r);
  });
  $('logout').addEventListener('click', async () => { await api('POST', '/api/logout'); showLoggedOut(); });

  $('doc-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    const r = await api('POST', '/api/documents', { title: $('doc-title').value, workspace: $('doc-workspace').value, text: $('doc-text').value });
    if (r.status === 202) { $('doc-status').textContent = 'queued ' + r.body.jobId; jobRow(r.body.jobId, $('doc-title').value, 0); }
    else $('doc-status').textContent = errorText(r);
  });

  $('burst').addEventListener('click', async () => {
    await Promise.all(Array.from({ length: 40 }, () => api('GET', '/api/ping')));
    pollStats();
  });

  async function lookup(topic) {
    const r = await api('GET', '/api/answers/' + encodeURIComponent(topic));
    if (r.status === 200) $('cache-last').textContent = topic + ': ' + (r.body.fromUpstream ? 'upstream' : 'cache') + ' in ' + r.body.ms + ' ms';
    else $('cache-last').textContent = errorText(r);
    return r;
  }
  for (const b of document.querySelectorAll('.lookup')) b.addEventListener('click', () => lookup(b.dataset.topic));
  $('stampede').addEventListener('click', async () => {
    const topic = 'topic-' + Math.random().toString(36).slice(2, 8);
    const results = await Promise.all(Array.from({ length: 10 }, () => lookup(topic)));
    const fromUpstream = results.filter((r) => r.status === 200 && r.body.fromUpstream).length;
    $('cache-last').textContent = '10 concurrent requests for ' + topic + ': ' + fromUpstream + ' waited for the upstream call';
  });

  async function checkout(n) {
    const results = await Promise.all(Array.from({ length: n }, () => api('POST', '/api/checkout')));
    const ok = results.filter((r) => r.status === 200);
    if (ok.length) $('checkout-last').textContent = ok.length + ' checkout(s), last fence ' + Math.max(...ok.map((r) => r.body.fence));
  }
  $('checkout').addEventListener('click', () => checkout(1));
  $('checkout-10').addEventListener('click', () => checkout(10));

  $('profile-form').addEventListener('submit', async (e) => { e.preventDefault(); await api('PUT', '/api/profile', { displayName: $('display-name').value }); refreshMe(); });
  $('prefs-form').addEventListener('submit', async (e) => { e.preventDefault(); await api('PUT', '/api/state/preferences', { theme: $('theme').value }); refreshMe(); });
  $('reminder-form').addEventListener('submit', async (e) => { e.preventDefault(); await api('POST', '/api/reminders', { text: $('reminder-text').value, inSeconds: Number($('reminder-seconds').value) }); });

  api('GET', '/api/me').then((r) => { if (r.status === 200) showLoggedIn(r.body); });
})();
</script>
</body>
</html>
`;
