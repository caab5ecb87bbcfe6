// todo-web: optional enhancements. Every form and link works without this script (plain
// posts and redirects); with it, forms and links marked data-swap fetch the next page and
// swap the named regions in place, and chat turns happen without a page load.
(() => {
  'use strict';
  const $ = (sel, root = document) => root.querySelector(sel);
  const byId = (id) => document.getElementById(id);
  const parse = (html) => new DOMParser().parseFromString(html, 'text/html');

  // Announces text to screen readers through the polite status region.
  function say(text) {
    const s = byId('status');
    if (!s || !text) return;
    s.textContent = '';
    setTimeout(() => { s.textContent = text; }, 50);
  }

  function banner(text) {
    const b = byId('banner');
    if (!b) return;
    const p = document.createElement('p');
    p.className = 'banner';
    p.setAttribute('role', 'alert');
    p.textContent = text;
    b.replaceChildren(p);
  }

  // Replaces this page's element `id` with the one from `doc`.
  function copy(doc, id) {
    const from = doc.getElementById(id);
    const to = byId(id);
    if (from && to) to.replaceWith(document.adoptNode(from));
  }

  function adopt(doc) {
    copy(doc, 'banner');
    const meta = $('meta[name=csrf-token]', doc);
    const mine = $('meta[name=csrf-token]');
    if (meta && mine) mine.content = meta.content;
    document.title = doc.title;
  }

  // Shows a page that has none of the regions (sign-in after the session ended, an error
  // page) as a whole.
  function showWhole(res, doc) {
    if (res.redirected) { location.assign(res.url); return; }
    adopt(doc);
    copy(doc, 'main');
    const h = $('#main h1');
    if (h) { h.tabIndex = -1; h.focus(); }
  }

  async function get(url, init) {
    try {
      const res = await fetch(url, Object.assign({ credentials: 'same-origin' }, init));
      return { res, doc: parse(await res.text()) };
    } catch (e) {
      banner('The server is not reachable. Check your connection and try again.');
      return null;
    }
  }

  // Fetches `url` and swaps the regions `ids`; `history` is 'push', 'replace' or null.
  async function swap(url, init, ids, history, form) {
    const got = await get(url, init);
    if (!got) return false;
    const { res, doc } = got;
    const regions = ids.filter((id) => doc.getElementById(id) && byId(id));
    if (regions.length === 0) {
      // A form that came back with its errors (the edit form): replace just that form.
      if (form && form.id && doc.getElementById(form.id) && !res.redirected) {
        const fresh = document.adoptNode(doc.getElementById(form.id));
        form.replaceWith(fresh);
        focusFirst(fresh, '[aria-invalid="true"]');
        return false;
      }
      showWhole(res, doc);
      return false;
    }
    regions.forEach((id) => copy(doc, id));
    adopt(doc);
    if (history === 'push') window.history.pushState(null, '', res.url);
    if (history === 'replace') window.history.replaceState(null, '', res.url);
    const flash = $('#flash .flash');
    if (flash) say(flash.textContent);
    return true;
  }

  function focusFirst(root, sel) {
    const el = root && root.querySelector(sel);
    if (el) el.focus();
    return !!el;
  }

  // After a swap, focus what the user was working on (or the first field with an error).
  function refocus(formId, rowId) {
    if (focusFirst(byId('tasks-panel'), '[aria-invalid="true"]')) return;
    if (formId === 'add-form' && focusFirst(byId('add-form'), '#add-title')) return;
    if (rowId && focusFirst(byId(rowId), '.check')) return;
    const h = byId('tasks-h');
    if (h && formId !== 'filter-form') { h.tabIndex = -1; h.focus(); }
  }

  const regionsOf = (el) => (el.dataset.swap || '').split(' ').filter(Boolean);

  document.addEventListener('submit', async (ev) => {
    const form = ev.target;
    if (!(form instanceof HTMLFormElement)) return;
    if (form.hasAttribute('data-chat')) { chat(ev, form); return; }
    if (!form.dataset.swap) return;
    ev.preventDefault();
    const by = ev.submitter;
    const data = new URLSearchParams(new FormData(form, by));
    // A row's button posts the list form to its own formaction.
    const action = by && by.hasAttribute('formaction') ? by.formAction : form.action;
    const row = (by || form).closest('li[id]');
    const rowId = row && row.id;
    form.querySelectorAll('button').forEach((b) => { b.disabled = true; });
    let swapped;
    if (form.method === 'get') {
      const url = new URL(action, location.href);
      url.search = data.toString();
      swapped = await swap(url, {}, regionsOf(form), 'push', form);
    } else {
      swapped = await swap(action, { method: 'POST', body: data }, regionsOf(form), 'replace', form);
    }
    form.querySelectorAll('button').forEach((b) => { b.disabled = false; });
    if (swapped) refocus(form.id, rowId);
  });

  document.addEventListener('click', async (ev) => {
    const a = ev.target instanceof Element && ev.target.closest('a');
    if (!a || ev.button !== 0 || ev.metaKey || ev.ctrlKey || ev.shiftKey || ev.altKey) return;
    if (a.hasAttribute('data-confirm')) {
      // Delete at once, as the confirmation page's form does; the notice that follows
      // offers Undo instead of asking first.
      ev.preventDefault();
      const back = $('#list-form input[name=back]');
      const body = new URLSearchParams({
        csrf: $('meta[name=csrf-token]').content,
        back: back ? back.value : '',
      });
      if (await swap(a.pathname, { method: 'POST', body }, ['tasks-panel'], 'replace')) {
        if (!focusFirst(byId('flash'), 'button')) refocus(null, null);
      }
    } else if (a.hasAttribute('data-edit')) {
      ev.preventDefault();
      editInline(a);
    } else if (a.dataset.swap || (a.classList.contains('tag') && a.closest('#tasks-panel'))) {
      ev.preventDefault();
      const ids = a.dataset.swap ? regionsOf(a) : ['tasks-panel'];
      if (await swap(a.href, {}, ids, 'push') && ids.includes('chat-panel')) {
        scrollLog();
        focusFirst(document, '#chat-message');
      }
    }
  });

  // Edit in place: the edit page's form replaces the task's row.
  async function editInline(a) {
    const row = a.closest('li');
    const got = await get(a.href);
    if (!got) return;
    const form = got.doc.getElementById('edit-form');
    if (!form || !row) { showWhole(got.res, got.doc); return; }
    const box = document.createElement('div');
    box.className = 'editing';
    box.append(document.adoptNode(form));
    row.replaceChildren(box);
    focusFirst(row, 'input:not([type=hidden])');
  }

  document.addEventListener('keydown', (ev) => {
    if (ev.key !== 'Escape') return;
    const form = ev.target instanceof Element && ev.target.closest('#tasks-panel #edit-form');
    const cancel = form && form.querySelector('a[data-swap]');
    if (cancel) cancel.click();
  });

  window.addEventListener('popstate', () => {
    swap(location.href, {}, ['tasks-panel', 'chat-panel'], null);
  });

  function item(cls, who, text) {
    const li = document.createElement('li');
    li.className = 'msg ' + cls;
    const w = document.createElement('span');
    w.className = 'who';
    w.textContent = who;
    const p = document.createElement('p');
    p.textContent = text;
    li.append(w, p);
    return li;
  }

  function scrollLog() {
    const log = byId('chat-log');
    if (log) log.scrollTop = log.scrollHeight;
  }

  // One chat turn: show the message at once, post it, then append the reply (with its tool
  // calls) and refresh the task list and the conversation list from the page it redirects to.
  async function chat(ev, form) {
    ev.preventDefault();
    const input = form.querySelector('[name=message]');
    const text = input.value.trim();
    const log = byId('chat-log');
    if (!text || !log) { input.focus(); return; }
    const data = new URLSearchParams(new FormData(form));
    const before = log.querySelectorAll('li.msg').length;
    const hint = $('.hint', log);
    if (hint) hint.remove();
    const mine = item('user', 'You', text);
    const wait = item('assistant pending', 'Assistant', 'Thinking');
    wait.setAttribute('aria-hidden', 'true');
    log.append(mine, wait);
    scrollLog();
    input.value = '';
    const button = form.querySelector('button');
    button.disabled = true;
    const got = await streamed(data, wait) || await get(form.action, { method: 'POST', body: data });
    mine.remove();
    wait.remove();
    button.disabled = false;
    if (!got) { input.value = text; return; }
    const { res, doc } = got;
    if (!doc.getElementById('chat-panel')) { showWhole(res, doc); return; }
    const fresh = Array.from(doc.querySelectorAll('#chat-log > li.msg'));
    if (fresh.length >= before) {
      fresh.slice(before).forEach((li) => log.append(document.adoptNode(li)));
    } else {
      log.replaceChildren(...fresh.map((li) => document.adoptNode(li)));
    }
    ['conversations', 'chat-form', 'tasks-panel'].forEach((id) => copy(doc, id));
    adopt(doc);
    if (res.redirected) window.history.replaceState(null, '', res.url);
    scrollLog();
    if (!focusFirst(byId('chat-form'), '[aria-invalid="true"]')) focusFirst(document, '#chat-message');
  }

  // The reply as it is written: /chat/stream's events (text pieces, tool calls as HTML, an
  // error, and at `done` the page to load the stored turn from). Null when it cannot stream
  // (an old browser, a refusal, a break): the form is posted as without this script, with
  // the same client id, so the message is still answered once.
  async function streamed(data, li) {
    const p = li.lastChild;
    let text = '', buf = '', url, m;
    try {
      const res = await fetch('/chat/stream', { method: 'POST', body: data });
      if (!/event-stream/.test(res.headers.get('content-type'))) return null;
      const read = res.body.pipeThrough(new TextDecoderStream()).getReader();
      for (let r; !(r = await read.read()).done;) {
        buf += r.value;
        while ((m = /event: (\w+)\ndata: (.*)\n\n/.exec(buf))) {
          buf = buf.slice(m.index + m[0].length);
          const v = JSON.parse(m[2]);
          li.classList.remove('pending');
          if (m[1] === 'text') p.textContent = text += v;
          else if (m[1] === 'error') p.textContent = v;
          else if (m[1] === 'done') url = v;
          // A tool call: its list, as the page renders it.
          else li.append(document.adoptNode(parse(v).body.firstChild));
          scrollLog();
        }
      }
    } catch (e) { /* posted as a form instead */ }
    // The address names the conversation, as after the form post's redirect.
    if (!url) return null;
    window.history.replaceState(null, '', url);
    return get(url);
  }

  // The browser's time zone: sent with sign-up (the select in <noscript> stands in without
  // this script), and offered on the settings page when it differs from the saved one.
  function browserZone() {
    try { return Intl.DateTimeFormat().resolvedOptions().timeZone || ''; } catch (e) { return ''; }
  }
  const tz = byId('browser-tz');
  if (tz) tz.value = browserZone();
  const pick = $('select[data-browser-zone]');
  const zone = browserZone();
  if (pick && zone && pick.value !== zone && Array.from(pick.options).some((o) => o.value === zone)) {
    const b = document.createElement('button');
    b.type = 'button';
    b.className = 'link';
    b.textContent = 'Use this device’s zone (' + zone + ')';
    b.addEventListener('click', () => { pick.value = zone; pick.focus(); });
    pick.after(b);
  }

  scrollLog();
})();
