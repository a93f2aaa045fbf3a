// Sluice console: progressive enhancement of server-rendered pages. Every
// action is a call to the public JSON API (/api/v1); live pages follow the
// API's server-sent events and swap in the regions (marked data-live) of a
// fresh server rendering. No framework, no build step.
(function () {
  'use strict';

  const body = document.body;
  const serverNow = Number(body.dataset.now) || Date.now();
  const skew = serverNow - Date.now();
  const now = () => Date.now() + skew;

  // ---- Who acts: the session, whose cookie the browser sends. ----
  // A state-changing request must also carry the session's CSRF token,
  // which the layout puts in a meta element: another site's page cannot
  // read it, so it cannot make such a request in the viewer's name.
  const csrfMeta = document.querySelector('meta[name="csrf-token"]');
  const csrfToken = csrfMeta ? csrfMeta.content : '';
  // toLogin sends the viewer to the login page, which brings them back.
  function toLogin() {
    window.location.assign('/login?next=' + encodeURIComponent(window.location.pathname + window.location.search));
  }

  // ---- Times in the viewer's zone; durations. ----
  const timeFormat = new Intl.DateTimeFormat(undefined, {
    year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', second: '2-digit', timeZoneName: 'short',
  });
  function localizeTimes(root) {
    root.querySelectorAll('time[datetime]').forEach((t) => {
      if (t.dataset.local) return;
      const d = new Date(t.getAttribute('datetime'));
      if (isNaN(d)) return;
      t.title = t.textContent;
      t.textContent = timeFormat.format(d);
      t.dataset.local = '1';
    });
  }
  function fmtDur(ms) {
    ms = Math.max(0, Math.round(ms));
    const s = ms / 1000;
    if (s < 1) return ms + 'ms';
    if (s < 10) return s.toFixed(1) + 's';
    if (s < 60) return Math.floor(s) + 's';
    const pad = (n) => String(n).padStart(2, '0');
    if (s < 3600) return Math.floor(s / 60) + 'm ' + pad(Math.floor(s) % 60) + 's';
    if (s < 48 * 3600) return Math.floor(s / 3600) + 'h ' + pad(Math.floor(s / 60) % 60) + 'm';
    return Math.floor(s / 86400) + 'd ' + pad(Math.floor(s / 3600) % 24) + 'h';
  }
  function tick() {
    const t = now();
    document.querySelectorAll('[data-tick-start]').forEach((el) => {
      el.textContent = fmtDur(t - Number(el.dataset.tickStart));
    });
    document.querySelectorAll('a.node[data-status="RUNNING"][data-start]:not([data-end])').forEach((n) => {
      const e = n.querySelector('.node-elapsed');
      if (e) e.textContent = fmtDur(t - Number(n.dataset.start));
    });
  }

  // ---- Calling the API. ----
  // api returns the decoded body, or throws an Error with .status, .code,
  // .details (each {path, message}) from the API's error body.
  // A 401 (the session ended) goes to the login page; a 403 throws the
  // API's message, which says what is missing.
  async function api(method, url, bodyText, contentType) {
    const headers = { Accept: 'application/json' };
    if (method !== 'GET' && method !== 'HEAD') {
      // The API refuses a state-changing request that is not JSON (or a
      // YAML document) and one without the session's CSRF token.
      headers['Content-Type'] = contentType || 'application/json';
      headers['X-CSRF-Token'] = csrfToken;
    }
    let res;
    try {
      res = await fetch(url, { method, headers, body: bodyText, credentials: 'same-origin' });
    } catch (e) {
      const err = new Error('The server cannot be reached: ' + e.message);
      err.status = 0;
      throw err;
    }
    const text = await res.text();
    let data = null;
    try { data = text ? JSON.parse(text) : null; } catch (e) { /* not JSON */ }
    if (res.status === 401) toLogin();
    if (!res.ok) {
      const info = (data && data.error) || {};
      const err = new Error(info.message || ('The server answered ' + res.status + ' ' + res.statusText));
      err.status = res.status;
      err.code = info.code || '';
      err.details = info.details || [];
      throw err;
    }
    return data;
  }
  // isMissingRoute tells a route this server does not have from a missing
  // resource.
  function isMissingRoute(err) {
    return (err.status === 404 && /^no such route/.test(err.message)) || err.status === 405;
  }
  function showError(out, err, skipPaths) {
    if (!out) return;
    out.textContent = '';
    out.appendChild(document.createTextNode(err.message));
    const rest = (err.details || []).filter((d) => !(skipPaths && skipPaths(d.path)));
    if (rest.length) {
      const ul = document.createElement('ul');
      ul.className = 'problems';
      rest.forEach((d) => {
        const li = document.createElement('li');
        if (d.path) {
          const c = document.createElement('code');
          c.textContent = d.path;
          li.append(c, ': ');
        }
        li.append(d.message);
        ul.appendChild(li);
      });
      out.appendChild(ul);
    }
  }
  async function busy(button, fn) {
    if (button) button.disabled = true;
    try { return await fn(); } finally { if (button) button.disabled = false; }
  }

  // ---- Buttons that POST an operation: cancel, pause, resume, restart, … ----
  document.addEventListener('click', async (ev) => {
    const b = ev.target.closest('button[data-action]');
    if (!b) return;
    ev.preventDefault();
    if (b.dataset.confirm && !window.confirm(b.dataset.confirm)) return;
    const out = b.parentElement.querySelector('output.error');
    if (out) out.textContent = '';
    await busy(b, async () => {
      try {
        await api('POST', b.dataset.action, b.dataset.body || '{}');
        refresh();
      } catch (err) {
        if (b.dataset.missing && isMissingRoute(err)) err = new Error(b.dataset.missing);
        showError(out, err);
      }
    });
  });

  // ---- Run forms: trigger with parameters, then open the execution. ----
  document.addEventListener('submit', async (ev) => {
    const form = ev.target;
    if (form.matches('form[data-run]')) {
      // Plan posts the form to the console, which shows the plan.
      if (ev.submitter && ev.submitter.hasAttribute('data-plan')) return;
      ev.preventDefault();
      await runPipeline(form, ev.submitter);
    } else if (form.matches('form[data-judgment]')) {
      ev.preventDefault();
      await judge(form, ev.submitter);
    }
  });

  async function runPipeline(form, button) {
    const out = form.querySelector('.actions output.error');
    form.querySelectorAll('output.field-error').forEach((o) => { o.textContent = ''; });
    out.textContent = '';
    const parameters = {};
    let missing = null;
    form.querySelectorAll('[data-param]').forEach((f) => {
      const v = f.value.trim();
      if (v !== '') parameters[f.dataset.param] = v;
      else if (f.required) {
        const o = form.querySelector('output[data-error-for="parameters.' + CSS.escape(f.dataset.param) + '"]');
        if (o) o.textContent = 'Required: give a value.';
        f.setAttribute('aria-invalid', 'true');
        missing = missing || f;
      }
    });
    if (missing) { missing.focus(); return; }
    await busy(button, async () => {
      try {
        const exec = await api('POST', form.dataset.run, JSON.stringify({ parameters }));
        window.location.assign('/executions/' + encodeURIComponent(exec.id));
      } catch (err) {
        let shown = false;
        (err.details || []).forEach((d) => {
          const o = form.querySelector('output[data-error-for="' + CSS.escape(d.path) + '"]');
          if (o) { o.textContent = d.message; shown = true; }
        });
        showError(out, err, (p) => shown && !!form.querySelector('output[data-error-for="' + CSS.escape(p) + '"]'));
      }
    });
  }

  async function judge(form, button) {
    const out = form.querySelector('output.error');
    out.textContent = '';
    const status = button ? button.value : 'continue';
    const chosen = form.querySelector('input[name="input"]:checked');
    const req = { status };
    if (chosen) req.input = chosen.value;
    await busy(button, async () => {
      try {
        await api('POST', form.dataset.judgment, JSON.stringify(req));
        refresh();
      } catch (err) {
        showError(out, err);
      }
    });
  }

  // ---- The pipeline document: validate before saving, problems and warnings at their paths. ----
  const docForm = document.getElementById('doc-form');
  if (docForm) {
    const text = document.getElementById('doc-text');
    const result = document.getElementById('doc-result');
    const box = document.getElementById('doc-problems');
    const boxMsg = document.getElementById('doc-problems-msg');
    const list = document.getElementById('doc-problems-list');
    const format = docForm.dataset.format;
    const contentType = format === 'yaml' ? 'application/yaml' : 'application/json';

    const clear = () => { result.textContent = ''; result.className = 'result'; box.hidden = true; box.classList.remove('warnings'); list.textContent = ''; };

    // Unsaved edits are not lost without a word: leaving the page — a
    // link or form of the console, or the browser's own navigation —
    // asks first. A save makes the text the saved one.
    let saved = text.value;
    const unsaved = () => text.value !== saved;
    const leaveMessage = 'The pipeline document has edits that are not saved. Leave the page and discard them?';
    let leaving = false;
    document.addEventListener('click', (ev) => {
      const a = ev.target.closest('a[href]');
      if (!a || ev.defaultPrevented || !unsaved() || a.target || ev.ctrlKey || ev.metaKey || ev.shiftKey || ev.button !== 0) return;
      const to = new URL(a.href, window.location.href);
      // A link within this page (#revisions) leaves nothing.
      if (to.origin === window.location.origin && to.pathname === window.location.pathname && to.search === window.location.search) return;
      if (window.confirm(leaveMessage)) leaving = true;
      else ev.preventDefault();
    });
    document.addEventListener('submit', (ev) => {
      const f = ev.target;
      if (ev.defaultPrevented || f === docForm || f.matches('form[data-run], form[data-judgment]') || !unsaved()) return;
      if (window.confirm(leaveMessage)) leaving = true;
      else ev.preventDefault();
    });
    window.addEventListener('beforeunload', (ev) => {
      if (leaving || !unsaved()) return;
      ev.preventDefault();
      ev.returnValue = '';
    });
    docForm.dataset.unsaved = '0';
    text.addEventListener('input', () => { docForm.dataset.unsaved = unsaved() ? '1' : '0'; });
    text.addEventListener('input', () => { if (!box.hidden || result.textContent) clear(); });

    // showDetails lists problems or warnings, each path a button that
    // selects its place in the document.
    function showDetails(message, details, warnings) {
      boxMsg.textContent = message;
      box.classList.toggle('warnings', warnings);
      list.textContent = '';
      const paths = format === 'json' ? jsonPaths(text.value) : null;
      (details || []).forEach((d) => {
        const li = document.createElement('li');
        if (d.path) {
          const pos = paths ? locate(paths, d.path) : -1;
          if (pos >= 0) {
            const b = document.createElement('button');
            b.type = 'button';
            b.className = 'path';
            b.textContent = d.path;
            b.title = 'Show in the document';
            b.addEventListener('click', () => select(text, pos));
            const line = document.createElement('span');
            line.className = 'line';
            line.textContent = ' (line ' + (text.value.slice(0, pos).split('\n').length) + ')';
            li.append(b, line, ': ');
          } else {
            const c = document.createElement('code');
            c.textContent = d.path;
            li.append(c, ': ');
          }
        }
        li.append(d.message);
        list.appendChild(li);
      });
      box.hidden = false;
    }

    const warningsMessage = (n) => (n === 1 ? '1 warning' : n + ' warnings') +
      ': the document is valid, but Sluice does not act on these keys.';

    async function validate() {
      clear();
      try {
        const r = await api('POST', docForm.dataset.validate, text.value, contentType);
        result.textContent = 'Valid: ' + r.summary;
        result.className = 'result ok';
        if (r.warnings && r.warnings.length) showDetails(warningsMessage(r.warnings.length), r.warnings, true);
        return true;
      } catch (err) {
        if (err.status === 0 || err.status >= 500) { result.textContent = err.message; result.className = 'result error'; return false; }
        showDetails(err.message, err.details, false);
        return false;
      }
    }
    const vb = document.getElementById('doc-validate');
    const sb = document.getElementById('doc-save');
    vb.addEventListener('click', () => busy(vb, validate));
    sb.addEventListener('click', () => busy(sb, async () => {
      if (!(await validate())) return;
      try {
        const rev = await api('PUT', docForm.dataset.save, text.value, contentType);
        saved = text.value;
        docForm.dataset.unsaved = '0';
        result.textContent = 'Saved revision ' + rev.revision + '.';
        result.className = 'result ok';
        // With warnings, stay to show them; reloading would lose them.
        if (rev.warnings && rev.warnings.length) {
          result.textContent += ' Reload to see it in the history.';
          showDetails(warningsMessage(rev.warnings.length), rev.warnings, true);
          return;
        }
        window.location.reload();
      } catch (err) {
        result.textContent = err.message;
        result.className = 'result error';
      }
    }));
  }

  // jsonPaths maps each JSON path written as the API writes it
  // ("stages[1].refId") to the offset where its key or value starts.
  function jsonPaths(src) {
    const out = new Map();
    let i = 0;
    const ws = () => { while (i < src.length && /\s/.test(src[i])) i++; };
    const str = () => {
      let j = i + 1;
      while (j < src.length && src[j] !== '"') { if (src[j] === '\\') j++; j++; }
      const s = JSON.parse(src.slice(i, j + 1));
      i = j + 1;
      return s;
    };
    const val = (path, at) => {
      ws();
      out.set(path, at === undefined ? i : at);
      const c = src[i];
      if (c === '{') {
        i++; ws();
        if (src[i] === '}') { i++; return; }
        for (;;) {
          ws();
          const kp = i;
          const k = str();
          ws(); i++; // ':'
          val(path ? path + '.' + k : k, kp);
          ws();
          if (src[i] === ',') { i++; continue; }
          i++; return;
        }
      } else if (c === '[') {
        i++; ws();
        if (src[i] === ']') { i++; return; }
        for (let n = 0; ; n++) {
          val(path + '[' + n + ']');
          ws();
          if (src[i] === ',') { i++; continue; }
          i++; return;
        }
      } else if (c === '"') {
        str();
      } else {
        while (i < src.length && !/[,}\]\s]/.test(src[i])) i++;
      }
    };
    try { val(''); } catch (e) { /* a syntax error: keep what was found */ }
    return out;
  }
  // locate finds a path, or the nearest enclosing one that exists (a
  // missing key is reported at its parent).
  function locate(paths, path) {
    for (let p = path; p; p = p.replace(/(\.[^.[\]]*|\[\d+\])$/, '')) {
      if (paths.has(p)) return paths.get(p);
      if (!/(\.[^.[\]]*|\[\d+\])$/.test(p)) break;
    }
    return -1;
  }
  function select(ta, pos) {
    const end = ta.value.indexOf('\n', pos);
    ta.focus();
    ta.setSelectionRange(pos, end < 0 ? ta.value.length : end);
    const line = ta.value.slice(0, pos).split('\n').length - 1;
    const lh = parseFloat(getComputedStyle(ta).lineHeight) || 18;
    ta.scrollTop = Math.max(0, line * lh - ta.clientHeight / 3);
  }

  // ---- Stage graphs: shrunk a little to fit, or scrolled inside their box. ----
  // A graph up to 1/minGraphScale wider than its box is drawn smaller to
  // fit; a wider one keeps its size, so its text stays readable, and
  // scrolls sideways. The frame is marked with the sides that have more
  // stages (a fade shows there), and a hint says the graph scrolls.
  const minGraphScale = 0.85;
  function fitGraph(wrap) {
    const svg = wrap.querySelector('svg.graph');
    if (!svg) return;
    const natural = Number(svg.getAttribute('width'));
    svg.style.width = '';
    svg.style.height = '';
    const room = wrap.clientWidth - 4; // the wrap's padding
    if (natural > room && natural * minGraphScale <= room) {
      svg.style.width = room + 'px';
      svg.style.height = 'auto';
    }
    markGraphOverflow(wrap);
  }
  function markGraphOverflow(wrap) {
    const frame = wrap.parentElement;
    const more = wrap.scrollWidth - wrap.clientWidth;
    frame.classList.toggle('more-left', more > 1 && wrap.scrollLeft > 1);
    frame.classList.toggle('more-right', more > 1 && wrap.scrollLeft < more - 1);
    const hint = frame.parentElement.querySelector('.graph-hint');
    if (hint) hint.hidden = more <= 1;
  }
  // showSelectedStage scrolls a graph so that its selected stage is in
  // view.
  function showSelectedStage(wrap) {
    const svg = wrap.querySelector('svg.graph');
    const node = wrap.querySelector('.node.selected');
    if (!svg || !node || wrap.scrollWidth <= wrap.clientWidth) return;
    const scale = svg.getBoundingClientRect().width / svg.viewBox.baseVal.width;
    const box = node.getBBox();
    const left = box.x * scale;
    const right = (box.x + box.width) * scale;
    if (left >= wrap.scrollLeft && right <= wrap.scrollLeft + wrap.clientWidth) return;
    wrap.scrollLeft = Math.max(0, left - (wrap.clientWidth - box.width * scale) / 2);
  }
  function fitGraphs(root) {
    root.querySelectorAll('.graph-wrap').forEach(fitGraph);
  }
  document.addEventListener('scroll', (ev) => {
    if (ev.target instanceof Element && ev.target.matches('.graph-wrap')) markGraphOverflow(ev.target);
  }, true);
  window.addEventListener('resize', () => fitGraphs(document));
  fitGraphs(document);
  document.querySelectorAll('.graph-wrap').forEach(showSelectedStage);

  // ---- Live regions. ----
  const liveState = document.getElementById('live-state');
  const rendered = new Map(); // region id -> the server's last HTML of it
  document.querySelectorAll('[data-live][id]').forEach((el) => rendered.set(el.id, el.innerHTML));
  let refreshing = false;
  let again = false;
  let timer = 0;
  const deferred = new Set();

  // A region is not swapped while someone is filling a form in it.
  function editing(region) {
    const a = document.activeElement;
    if (a && region.contains(a) && a.matches('input, select, textarea')) return true;
    return !!region.querySelector('details[open] form');
  }
  function schedule(delay) {
    if (timer) return;
    timer = setTimeout(() => { timer = 0; refresh(); }, delay === undefined ? 120 : delay);
  }
  async function refresh() {
    if (refreshing) { again = true; return; }
    refreshing = true;
    try {
      const res = await fetch(window.location.href, { headers: { Accept: 'text/html' }, cache: 'no-store', credentials: 'same-origin' });
      // A page whose session ended redirects to the login page.
      if (res.redirected && new URL(res.url).pathname === '/login') { window.location.assign(res.url); return; }
      if (!res.ok) return;
      const doc = new DOMParser().parseFromString(await res.text(), 'text/html');
      doc.querySelectorAll('[data-live][id]').forEach((fresh) => {
        const cur = document.getElementById(fresh.id);
        if (!cur) return;
        const html = fresh.innerHTML;
        if (rendered.get(fresh.id) === html) return;
        if (editing(cur)) { deferred.add(fresh.id); return; }
        deferred.delete(fresh.id);
        const focused = cur.contains(document.activeElement) ? document.activeElement.id : '';
        // Boxes that scroll sideways stay where the viewer scrolled them.
        const scrolled = [...cur.querySelectorAll('.graph-wrap, .table-wrap')].map((el) => el.scrollLeft);
        // An answer shown next to a button stays until the button is used again.
        const answers = [...cur.querySelectorAll('output.error[for]')].filter((o) => o.textContent !== '')
          .map((o) => [o.htmlFor.value, [...o.childNodes]]);
        cur.innerHTML = html;
        answers.forEach(([id, nodes]) => {
          const o = cur.querySelector('output.error[for="' + CSS.escape(id) + '"]');
          if (o) o.replaceChildren(...nodes);
        });
        rendered.set(fresh.id, html);
        localizeTimes(cur);
        fitGraphs(cur);
        cur.querySelectorAll('.graph-wrap, .table-wrap').forEach((el, i) => {
          if (scrolled[i]) el.scrollLeft = scrolled[i];
        });
        if (focused) {
          const f = document.getElementById(focused);
          if (f) f.focus();
        }
      });
      tick();
      body.dataset.refreshed = String((Number(body.dataset.refreshed) || 0) + 1);
    } catch (e) {
      /* the next event or poll tries again */
    } finally {
      refreshing = false;
      if (again) { again = false; schedule(); }
    }
  }
  // Deferred regions are swapped once the form is left.
  document.addEventListener('focusout', () => { if (deferred.size) schedule(300); });
  document.addEventListener('toggle', () => { if (deferred.size) schedule(300); }, true);

  function setLive(text) { if (liveState) liveState.textContent = text; }

  if (body.dataset.liveEvents && 'EventSource' in window) {
    // Events older than this page are already in it.
    const since = serverNow - 2000;
    const es = new EventSource(body.dataset.liveEvents);
    es.onopen = () => setLive('Live: updates as it happens.');
    es.onerror = () => {
      if (es.readyState !== EventSource.CLOSED) { setLive('Reconnecting to the event stream…'); return; }
      // The browser gives up on a stream the server refused, as it does
      // once the session ends; a refresh finds out, and goes to login.
      setLive('The event stream stopped; reload the page to follow it again.');
      refresh();
    };
    es.onmessage = (m) => {
      let ev;
      try { ev = JSON.parse(m.data); } catch (e) { return; }
      if (ev && ev.time && ev.time < since) return;
      schedule();
    };
    window.addEventListener('pagehide', () => es.close());
  } else if (Number(body.dataset.livePoll) > 0) {
    setLive('Refreshes every ' + Math.round(Number(body.dataset.livePoll) / 1000) + ' seconds.');
    setInterval(() => { if (!document.hidden) refresh(); }, Number(body.dataset.livePoll));
  }

  localizeTimes(document);
  tick();
  setInterval(tick, 1000);
  body.dataset.enhanced = '1';
})();
