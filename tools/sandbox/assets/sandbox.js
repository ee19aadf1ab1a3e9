// The Slack sandbox's workspace page: live updates (long poll), clicks, thread replies,
// events and modals. Plain browser JavaScript, no build step; the server renders all HTML.
(() => {
  'use strict';

  const $ = (id) => document.getElementById(id);
  const body = document.body;
  const selection = {
    team: body.dataset.team,
    channel: body.dataset.channel,
    user: body.dataset.user,
  };
  let version = Number(body.dataset.version) || 0;

  const actingUser = () => $('act-as').value || selection.user;

  // --- Talking to the sandbox -----------------------------------------------------------

  async function post(path, payload) {
    let answer = {};
    let response;
    try {
      response = await fetch(path, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(payload),
      });
      answer = await response.json().catch(() => ({}));
    } catch (error) {
      return { ok: false, answer: { error: 'the sandbox did not answer: ' + error.message } };
    }
    return { ok: response.ok, answer };
  }

  function report(answer) {
    const line = $('delivery');
    if (answer.status !== undefined) {
      const what = answer.sent ? ' (' + answer.sent + ')' : '';
      line.textContent = 'Slack → your app' + what + ': ' + answer.status +
        (answer.error ? ' · ' + answer.error : '');
      line.classList.toggle('failed', answer.status >= 300 || Boolean(answer.error));
    } else {
      line.textContent = 'Slack → your app: ' + (answer.error || 'nothing sent');
      line.classList.add('failed');
    }
  }

  // --- Rendering what the server rendered -----------------------------------------------

  function swap(element, fragment) {
    if (!element || element.dataset.rev === fragment.rev) return false;
    element.innerHTML = fragment.html;
    element.dataset.rev = fragment.rev;
    return true;
  }

  function swapSelect(select, fragment, value) {
    if (select.dataset.rev !== fragment.rev && document.activeElement !== select) {
      select.innerHTML = fragment.html;
      select.dataset.rev = fragment.rev;
    }
    if (value) select.value = value;
  }

  // Keyed update of the message list: only changed entries are replaced, so screen readers
  // (aria-live) hear what changed and focus stays where it was.
  function syncEntries(list, entries) {
    const existing = new Map();
    for (const li of Array.from(list.children)) existing.set(li.dataset.key, li);
    const wanted = new Set(entries.map((e) => e.key));
    for (const [key, li] of existing) if (!wanted.has(key)) li.remove();
    entries.forEach((entry, index) => {
      let li = existing.get(entry.key);
      if (!li) {
        li = document.createElement('li');
        li.className = 'entry';
        li.dataset.key = entry.key;
      }
      if (li.dataset.rev !== entry.rev) {
        li.innerHTML = entry.html;
        li.dataset.rev = entry.rev;
        formatDates(li);
      }
      if (list.children[index] !== li) list.insertBefore(li, list.children[index] || null);
    });
  }

  function apply(state) {
    version = state.version;
    selection.team = state.team;
    selection.channel = state.channel || '';
    selection.user = state.user || '';
    body.dataset.team = selection.team;
    body.dataset.channel = selection.channel;
    body.dataset.user = selection.user;
    body.dataset.tz = state.user_tz || '';
    document.title = state.title;
    $('channel-title').textContent = state.channel_label;
    $('reply-as').textContent = state.user_name || 'nobody';
    swapSelect($('workspace'), state.html.workspaces, state.team);
    swapSelect($('act-as'), state.html.users, state.user);
    swap($('sidebar'), state.html.sidebar);
    syncEntries($('messages'), state.html.entries);
    if (swap($('views'), state.html.views)) showViews();
    const thread = $('reply-thread').value;
    if (thread && !document.querySelector('.message[data-ts="' + CSS.escape(thread) + '"]')) {
      hideReply();
    }
  }

  function urlFor(sel) {
    const query = new URLSearchParams();
    for (const key of ['team', 'channel', 'user']) if (sel[key]) query.set(key, sel[key]);
    return query;
  }

  let refreshing = null;
  async function refresh() {
    // One refresh at a time; a request arriving meanwhile runs once more afterwards.
    if (refreshing) { refreshing.again = true; return refreshing.done; }
    refreshing = { again: false };
    refreshing.done = (async () => {
      do {
        refreshing.again = false;
        try {
          const response = await fetch('/_sandbox/ui/state?' + urlFor(selection));
          const state = await response.json();
          if (response.ok) apply(state);
          else report({ error: state.error || 'state failed: HTTP ' + response.status });
        } catch (error) {
          report({ error: 'the sandbox did not answer: ' + error.message });
        }
      } while (refreshing.again);
      refreshing = null;
    })();
    return refreshing.done;
  }

  function navigate(change, push) {
    Object.assign(selection, change);
    const url = '/?' + urlFor(selection);
    if (push) history.pushState(null, '', url); else history.replaceState(null, '', url);
    return refresh();
  }

  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

  async function poll() {
    for (;;) {
      try {
        const response = await fetch('/_sandbox/ui/events?since=' + version, { cache: 'no-store' });
        if (!response.ok) throw new Error('HTTP ' + response.status);
        const event = await response.json();
        if (event.version !== version) await refresh();
      } catch (error) {
        await sleep(2000);
      }
    }
  }

  // --- Slack's date tokens in the acting user's time zone ---------------------------------

  function formatDate(epoch, format, timeZone) {
    const date = new Date(epoch * 1000);
    const fmt = (options, at = date) => {
      try {
        return new Intl.DateTimeFormat('en-US', { ...options, timeZone: timeZone || undefined }).format(at);
      } catch (error) {
        return new Intl.DateTimeFormat('en-US', options).format(at);
      }
    };
    const day = (at) => fmt({ year: 'numeric', month: '2-digit', day: '2-digit' }, at);
    const pretty = (plain) => {
      const today = new Date();
      const offsets = { '-1': 'yesterday', '0': 'today', '1': 'tomorrow' };
      for (const [offset, word] of Object.entries(offsets)) {
        const other = new Date(today.getTime() + Number(offset) * 86400000);
        if (day(other) === day(date)) return word;
      }
      return plain;
    };
    const parts = {
      date_num: () => {
        const [m, d, y] = day(date).split('/');
        return y + '-' + m + '-' + d;
      },
      date: () => fmt({ year: 'numeric', month: 'long', day: 'numeric' }),
      date_short: () => fmt({ year: 'numeric', month: 'short', day: 'numeric' }),
      date_long: () => fmt({ weekday: 'long', year: 'numeric', month: 'long', day: 'numeric' }),
      date_pretty: () => pretty(parts.date()),
      date_short_pretty: () => pretty(parts.date_short()),
      date_long_pretty: () => pretty(parts.date_long()),
      time: () => fmt({ hour: 'numeric', minute: '2-digit' }),
      time_secs: () => fmt({ hour: 'numeric', minute: '2-digit', second: '2-digit' }),
      ago: () => {
        const seconds = Math.round((Date.now() - date.getTime()) / 1000);
        const rtf = new Intl.RelativeTimeFormat('en', { numeric: 'auto' });
        if (Math.abs(seconds) < 60) return rtf.format(-seconds, 'second');
        if (Math.abs(seconds) < 3600) return rtf.format(-Math.round(seconds / 60), 'minute');
        if (Math.abs(seconds) < 86400) return rtf.format(-Math.round(seconds / 3600), 'hour');
        return rtf.format(-Math.round(seconds / 86400), 'day');
      },
    };
    return format.replace(/\{(\w+)\}/g, (token, name) => (parts[name] ? parts[name]() : token));
  }

  function formatDates(root) {
    for (const time of root.querySelectorAll('time[data-epoch]')) {
      const epoch = Number(time.dataset.epoch);
      if (!Number.isFinite(epoch)) continue;
      if (!time.dataset.fallback) time.dataset.fallback = time.textContent;
      time.dateTime = new Date(epoch * 1000).toISOString();
      time.title = time.dataset.fallback;
      try {
        time.textContent = formatDate(epoch, time.dataset.format || '{date_short} {time}', body.dataset.tz);
      } catch (error) {
        time.textContent = time.dataset.fallback;
      }
    }
  }

  // --- Thread replies ---------------------------------------------------------------------

  function showReply(button) {
    const message = button.closest('.message');
    const text = message.querySelector('.blocks').textContent.trim().slice(0, 80);
    $('reply-thread').value = button.dataset.replyTo;
    $('reply-context').textContent = 'Replying to: “' + text + (text.length >= 80 ? '…' : '') + '”';
    $('reply-form').hidden = false;
    $('reply-text').focus();
  }

  function hideReply() {
    $('reply-form').hidden = true;
    $('reply-thread').value = '';
  }

  // --- Modals -----------------------------------------------------------------------------

  function showViews() {
    for (const dialog of $('views').querySelectorAll('dialog')) {
      formatDates(dialog);
      if (typeof dialog.showModal === 'function' && !dialog.matches(':modal')) {
        dialog.removeAttribute('open');
        dialog.showModal();
      }
      dialog.addEventListener('cancel', (event) => {
        event.preventDefault();
        closeView(dialog.dataset.viewId);
      });
    }
  }

  async function closeView(viewId) {
    await post('/_sandbox/ui/close', { view_id: viewId });
    await refresh();
  }

  async function submitView(form) {
    const values = {};
    for (const input of form.querySelectorAll('[data-block-id][data-action-id]')) {
      const block = input.dataset.blockId;
      values[block] = values[block] || {};
      values[block][input.dataset.actionId] = input.value;
    }
    for (const error of form.querySelectorAll('.field-error')) {
      error.hidden = true;
      error.textContent = '';
    }
    const status = form.querySelector('.view-status');
    status.textContent = 'Sending…';
    const submitButton = form.querySelector('button[type=submit]');
    if (submitButton) submitButton.disabled = true;
    const { answer } = await post('/_sandbox/ui/submit', {
      view_id: form.dataset.viewId, user: actingUser(), values,
    });
    if (submitButton) submitButton.disabled = false;
    report(answer);
    status.textContent = answer.error || '';
    if (answer.errors) {
      status.textContent = 'Your app reported errors.';
      for (const [blockId, message] of Object.entries(answer.errors)) {
        const slot = form.querySelector('.field-error[data-error-for="' + CSS.escape(blockId) + '"]');
        if (slot) {
          slot.textContent = message;
          slot.hidden = false;
        } else {
          status.textContent += ' ' + blockId + ': ' + message;
        }
      }
    }
    if (answer.closed) {
      const dialog = form.closest('dialog');
      if (dialog && dialog.open) dialog.close();
    }
    await refresh();
  }

  // --- Wiring -----------------------------------------------------------------------------

  document.addEventListener('click', async (event) => {
    const channelLink = event.target.closest('a[data-channel]');
    if (channelLink && !event.ctrlKey && !event.metaKey && !event.shiftKey) {
      event.preventDefault();
      hideReply();
      // Another person's DM opens as that person (data-user), as only they would see it.
      const change = { channel: channelLink.dataset.channel };
      if (channelLink.dataset.user) change.user = channelLink.dataset.user;
      await navigate(change, true);
      $('channel-title').focus({ preventScroll: true });
      return;
    }
    const replyButton = event.target.closest('button[data-reply-to]');
    if (replyButton) {
      showReply(replyButton);
      return;
    }
    const action = event.target.closest('.message [data-action-id]');
    if (action) {
      // URL buttons open their link and, as in Slack, also send block_actions.
      const message = action.closest('.message');
      const isButton = action.tagName === 'BUTTON';
      if (isButton) action.disabled = true;
      $('delivery').textContent = 'Slack → your app: sending block_actions…';
      const { answer } = await post('/_sandbox/ui/click', {
        channel: message.dataset.channel,
        ts: message.dataset.ts,
        action_id: action.dataset.actionId,
        user: actingUser(),
      });
      if (isButton && action.isConnected) action.disabled = false;
      report(answer);
      return;
    }
    const close = event.target.closest('dialog .view-close');
    if (close) {
      closeView(close.closest('dialog').dataset.viewId);
    }
  });

  document.addEventListener('submit', (event) => {
    const form = event.target.closest('form.view-form');
    if (form) {
      event.preventDefault();
      submitView(form);
    }
  });

  $('reply-form').addEventListener('submit', async (event) => {
    event.preventDefault();
    const text = $('reply-text').value;
    const { answer } = await post('/_sandbox/ui/reply', {
      channel: selection.channel,
      thread_ts: $('reply-thread').value,
      user: actingUser(),
      text,
    });
    report(answer);
    if (answer.ts) $('reply-text').value = '';
    await refresh();
  });

  $('reply-cancel').addEventListener('click', hideReply);

  $('uninstall').addEventListener('click', async () => {
    const { answer } = await post('/_sandbox/ui/uninstall', { team: selection.team });
    report(answer);
    if (answer.revoked_tokens !== undefined) {
      $('delivery').textContent += ' · ' + answer.revoked_tokens + ' token(s) revoked';
    }
  });

  $('act-as').addEventListener('change', (event) => navigate({ user: event.target.value }, false));
  $('workspace').addEventListener('change', (event) => {
    hideReply();
    navigate({ team: event.target.value, channel: '', user: '' }, true);
  });

  window.addEventListener('popstate', () => {
    const query = new URLSearchParams(location.search);
    selection.team = query.get('team') || '';
    selection.channel = query.get('channel') || '';
    selection.user = query.get('user') || '';
    refresh();
  });

  $('channel-title').tabIndex = -1;
  formatDates(document);
  showViews();
  poll();
})();
