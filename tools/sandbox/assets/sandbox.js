// The Slack sandbox's workspace page: live updates (long poll), clicks, thread replies (with
// an @-picker), edits and deletes, events and their resends, inviting the app, modals, the
// app's Home tab, permalinks and the reminders control. Plain browser JavaScript, no build
// step; the server renders all HTML.
(() => {
  'use strict';

  const $ = (id) => document.getElementById(id);
  const body = document.body;
  // `tab` is "home" when the app's Home tab shows; `ts` is a permalink's highlighted message.
  const selection = {
    team: body.dataset.team,
    channel: body.dataset.channel,
    user: body.dataset.user,
    tab: body.dataset.tab || '',
    ts: body.dataset.ts || '',
  };
  let version = Number(body.dataset.version) || 0;

  // Clicks, replies and submits go as the person Act as shows, whatever the page last loaded.
  const actingUser = () => $('act-as').value || selection.user;

  // --- Act as, remembered -----------------------------------------------------------------
  // The person is carried in the URL (?user=, or ?as= from a host's redirect) and kept per
  // workspace in storage, so a reload or a redirect without it (the demo host's, after the
  // request form) comes back as the same person. This tab's choice (sessionStorage) wins
  // over the last one made in any tab (localStorage).

  const storageKey = (team) => 'slack-sandbox.act-as.' + team;

  function rememberUser(team, user) {
    if (!team || !user) return;
    for (const store of [window.sessionStorage, window.localStorage]) {
      try { store.setItem(storageKey(team), user); } catch (error) { /* storage is off */ }
    }
  }

  function rememberedUser(team) {
    for (const store of [window.sessionStorage, window.localStorage]) {
      try {
        const user = store.getItem(storageKey(team));
        if (user) return user;
      } catch (error) { /* storage is off */ }
    }
    return '';
  }

  // Who is acting is shown in more than the select: the reply label, the request form's field.
  function showActing(user, name) {
    $('act-as').value = user;
    if (name !== undefined) $('reply-as').textContent = name || 'nobody';
    const field = $('request-as');
    if (field) field.value = user;
  }

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
      // `reason`: nothing was sent, as in Slack (the app is not in the channel).
      line.textContent = 'Slack → your app: ' + (answer.error || answer.reason || answer.note || 'nothing sent');
      line.classList.toggle('failed', !answer.reason || Boolean(answer.error));
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
    swapSelect($('workspace'), state.html.workspaces, state.team);
    swapSelect($('act-as'), state.html.users, state.user);
    showActing(selection.user, state.user_name);
    rememberUser(selection.team, selection.user);
    swap($('sidebar'), state.html.sidebar);
    swap($('channel-status'), state.html.channel_status);
    swap($('events-sent-list'), state.html.events_sent);
    if (swap($('mention-picker'), state.html.mentions)) closePicker();
    syncEntries($('messages'), state.html.entries);
    selection.tab = state.tab || '';
    selection.ts = state.ts || '';
    body.dataset.tab = selection.tab;
    body.dataset.ts = selection.ts;
    const home = selection.tab === 'home';
    $('messages').hidden = home;
    $('home-view').hidden = !home;
    if (swap($('home-view'), state.html.home)) formatDates($('home-view'));
    if (home) hideReply();
    scrollToLinked();
    if (swap($('views'), state.html.views)) showViews();
    // The thread replied to, or the message being edited, went away: so does the form.
    for (const ts of [$('reply-thread').value, $('reply-edit-ts').value]) {
      if (ts && !document.querySelector('.message[data-ts="' + CSS.escape(ts) + '"]')) hideReply();
    }
  }

  function urlFor(sel) {
    const query = new URLSearchParams();
    for (const key of ['team', 'channel', 'user', 'tab', 'ts']) if (sel[key]) query.set(key, sel[key]);
    return query;
  }

  // A permalink's message is scrolled into view once (not again on every live update).
  let scrolledTo = '';
  function scrollToLinked() {
    if (!selection.ts || selection.ts === scrolledTo || selection.tab === 'home') return;
    const message = document.querySelector('.message.highlighted');
    if (!message) return;
    scrolledTo = selection.ts;
    message.scrollIntoView({ block: 'center' });
  }

  // --- The stale-screen control ----------------------------------------------------------
  // Frozen, the tab draws nothing new, so its buttons stay as a stale Slack client's would;
  // clicks still go out, as the person Act as shows.

  let frozen = false;
  let resumed = null;
  let resumeNow = () => {};

  function setFrozen(on) {
    if (on === frozen) return;
    frozen = on;
    body.classList.toggle('frozen', on);
    $('freeze').setAttribute('aria-pressed', String(on));
    $('freeze').textContent = on ? 'Screen frozen' : 'Freeze screen';
    $('frozen-banner').hidden = !on;
    if (on) {
      resumed = new Promise((resolve) => { resumeNow = resolve; });
    } else {
      resumeNow();
      refresh();
    }
  }

  let refreshing = null;
  // `force`: the person asked for another view (a channel, a workspace), frozen or not.
  async function refresh(force) {
    if (frozen && !force) return undefined;
    // One refresh at a time; a request arriving meanwhile runs once more afterwards.
    if (refreshing) {
      refreshing.again = true;
      refreshing.force = refreshing.force || Boolean(force);
      return refreshing.done;
    }
    refreshing = { again: false, force: Boolean(force) };
    refreshing.done = (async () => {
      do {
        refreshing.again = false;
        const asked = urlFor(selection).toString();
        try {
          const response = await fetch('/_sandbox/ui/state?' + asked);
          const state = await response.json();
          // Frozen while this was on its way: the screen keeps what it had.
          if (frozen && !refreshing.force) break;
          // The selection changed on the way (Act as, a channel): this answer is about
          // someone else, and applying it would undo the person's choice.
          if (urlFor(selection).toString() !== asked) {
            refreshing.again = true;
            continue;
          }
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

  function setUrl(push) {
    const url = '/?' + urlFor(selection);
    if (push) history.pushState(null, '', url); else history.replaceState(null, '', url);
  }

  function navigate(change, push) {
    Object.assign(selection, change);
    setUrl(push);
    return refresh(true);
  }

  // The real name in an Act as option ("Ben Buyer (@ben) (guest)" → "Ben Buyer").
  function optionName(user) {
    const option = Array.from($('act-as').options).find((o) => o.value === user);
    return option ? option.textContent.replace(/ \(@.*$/, '') : undefined;
  }

  // Act as on a frozen screen changes only who clicks: the stale messages stay. On the Home
  // tab, another person acting is that person entering their App Home: Slack tells the app.
  async function actAs(user) {
    selection.user = user;
    rememberUser(selection.team, user);
    setUrl(false);
    if (frozen) {
      showActing(user, optionName(user));
      return;
    }
    await refresh();
    if (selection.tab === 'home') await openedHome();
  }

  // --- The app's Home tab -----------------------------------------------------------------
  // Entering it sends app_home_opened (signed, to the events URL) as the acting person; the
  // app answers with views.publish, which the live update draws.

  async function openedHome() {
    $('delivery').textContent = 'Slack → your app: sending app_home_opened…';
    const { answer } = await post('/_sandbox/ui/home', { team: selection.team, user: actingUser() });
    report(answer);
  }

  async function openHome() {
    hideReply();
    await navigate({ tab: 'home', ts: '' }, true);
    $('channel-title').focus({ preventScroll: true });
    await openedHome();
  }

  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

  async function poll() {
    for (;;) {
      if (frozen) await resumed;
      try {
        const response = await fetch('/_sandbox/ui/events?since=' + version, { cache: 'no-store' });
        if (!response.ok) throw new Error('HTTP ' + response.status);
        const event = await response.json();
        if (event.version !== version && !frozen) await refresh();
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

  // --- Thread replies, edits and deletes ------------------------------------------------
  // One form: replying (reply-thread set) or editing one's own message (reply-edit-ts set).

  function setMode(editing) {
    $('reply-heading').textContent = editing ? 'Edit message' : 'Reply in thread';
    $('reply-submit').textContent = editing ? 'Save edit' : 'Send reply';
  }

  function showReply(button) {
    const message = button.closest('.message');
    const text = message.querySelector('.blocks').textContent.trim().slice(0, 80);
    setMode(false);
    $('reply-edit-ts').value = '';
    $('reply-thread').value = button.dataset.replyTo;
    $('reply-context').textContent = 'Replying to: “' + text + (text.length >= 80 ? '…' : '') + '”';
    $('reply-form').hidden = false;
    $('reply-text').focus();
  }

  function showEdit(button) {
    setMode(true);
    $('reply-thread').value = '';
    $('reply-edit-ts').value = button.dataset.ts;
    $('reply-context').textContent = 'Editing your message: your app gets message_changed.';
    $('reply-text').value = editableText(button.dataset.text || '');
    $('reply-form').hidden = false;
    $('reply-text').focus();
  }

  function hideReply() {
    $('reply-form').hidden = true;
    $('reply-thread').value = '';
    if ($('reply-edit-ts').value) {
      $('reply-edit-ts').value = '';
      $('reply-text').value = '';
    }
    setMode(false);
    closePicker();
    chosenMentions.clear();
  }

  async function deleteMessage(button) {
    const { answer } = await post('/_sandbox/ui/delete', {
      channel: button.dataset.channel,
      ts: button.dataset.ts,
      user: actingUser(),
    });
    report(answer);
    await refresh();
  }

  // --- Mentions: the @-picker ---------------------------------------------------------------
  // Typing @ in the reply box opens the workspace's active people (li.mention-option),
  // filtered as one types; choosing one (click, Enter or Tab) puts @handle in the box. What is
  // sent carries Slack's form, <@U…>, for every handle chosen so.

  const chosenMentions = new Map(); // handle → user id
  let mentionStart = -1; // where the @ being completed sits in the box

  const mentionOptions = () => Array.from($('mention-picker').querySelectorAll('li.mention-option'));
  const shownOptions = () => mentionOptions().filter((li) => !li.hidden);
  const activeOption = () => shownOptions().find((li) => li.getAttribute('aria-selected') === 'true');

  function closePicker() {
    $('mention-picker').hidden = true;
    mentionStart = -1;
    $('reply-text').removeAttribute('aria-activedescendant');
    $('reply-text').setAttribute('aria-expanded', 'false');
  }

  function setActive(option) {
    for (const li of mentionOptions()) li.setAttribute('aria-selected', String(li === option));
    if (option) {
      $('reply-text').setAttribute('aria-activedescendant', option.id);
      option.scrollIntoView({ block: 'nearest' });
    }
  }

  function updatePicker() {
    const box = $('reply-text');
    const before = box.value.slice(0, box.selectionStart);
    const match = /(^|\s)@([\w.-]*)$/.exec(before);
    if (!match) {
      closePicker();
      return;
    }
    mentionStart = before.length - match[2].length - 1;
    const query = match[2].toLowerCase();
    for (const li of mentionOptions()) {
      li.hidden = Boolean(query) && !li.dataset.name.toLowerCase().startsWith(query) &&
        !li.dataset.realName.toLowerCase().includes(query);
    }
    const shown = shownOptions();
    if (!shown.length) {
      closePicker();
      return;
    }
    $('mention-picker').hidden = false;
    box.setAttribute('aria-expanded', 'true');
    if (!shown.includes(activeOption())) setActive(shown[0]);
  }

  function chooseMention(option) {
    const box = $('reply-text');
    if (mentionStart < 0 || !option) return;
    const inserted = '@' + option.dataset.name + ' ';
    box.value = box.value.slice(0, mentionStart) + inserted + box.value.slice(box.selectionStart);
    const caret = mentionStart + inserted.length;
    chosenMentions.set(option.dataset.name, option.dataset.user);
    closePicker();
    box.focus();
    box.setSelectionRange(caret, caret);
  }

  const escapeRegExp = (text) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

  // @handle → <@U…> for the handles chosen in the picker (not inside longer words or handles).
  function withMentions(text) {
    let out = text;
    for (const [name, user] of chosenMentions) {
      const pattern = new RegExp('(^|[^\\w@.])@' + escapeRegExp(name) + '(?![\\w-]|\\.\\w)', 'g');
      out = out.replace(pattern, (whole, before) => before + '<@' + user + '>');
    }
    return out;
  }

  // A stored message back into the box: <@U…> as @handle (remembered as chosen), entities
  // decoded (the server escapes them again).
  function editableText(stored) {
    const text = stored.replace(/<@([UW][A-Z0-9]+)>/g, (token, user) => {
      const option = $('mention-picker').querySelector('li.mention-option[data-user="' + CSS.escape(user) + '"]');
      if (!option) return token;
      chosenMentions.set(option.dataset.name, user);
      return '@' + option.dataset.name;
    });
    return text.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
  }

  $('reply-text').addEventListener('input', updatePicker);
  $('reply-text').addEventListener('click', updatePicker);
  $('reply-text').addEventListener('keydown', (event) => {
    if ($('mention-picker').hidden) return;
    const shown = shownOptions();
    const at = shown.indexOf(activeOption());
    if (event.key === 'ArrowDown' || event.key === 'ArrowUp') {
      event.preventDefault();
      const step = event.key === 'ArrowDown' ? 1 : -1;
      setActive(shown[(at + step + shown.length) % shown.length]);
    } else if (event.key === 'Enter' || event.key === 'Tab') {
      event.preventDefault();
      chooseMention(activeOption() || shown[0]);
    } else if (event.key === 'Escape') {
      event.preventDefault();
      closePicker();
    }
  });
  $('reply-text').addEventListener('blur', () => setTimeout(closePicker, 150));
  // mousedown, not click: the box keeps focus and its caret.
  $('mention-picker').addEventListener('mousedown', (event) => {
    const option = event.target.closest('li.mention-option');
    if (!option) return;
    event.preventDefault();
    chooseMention(option);
  });

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
    const plainClick = !event.ctrlKey && !event.metaKey && !event.shiftKey;
    const homeLink = event.target.closest('a[data-tab="home"]');
    if (homeLink && plainClick) {
      event.preventDefault();
      await openHome();
      return;
    }
    const channelLink = event.target.closest('a[data-channel]');
    if (channelLink && plainClick) {
      event.preventDefault();
      hideReply();
      // Another person's DM opens as that person (data-user), as only they would see it.
      const change = { channel: channelLink.dataset.channel, tab: '', ts: '' };
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
    const editButton = event.target.closest('button.edit-reply');
    if (editButton) {
      showEdit(editButton);
      return;
    }
    const deleteButton = event.target.closest('button.delete-reply');
    if (deleteButton) {
      deleteButton.disabled = true;
      await deleteMessage(deleteButton);
      return;
    }
    const resendButton = event.target.closest('button.resend-same, button.resend-new');
    if (resendButton) {
      resendButton.disabled = true;
      const id = resendButton.dataset.eventId;
      $('delivery').textContent = 'Slack → your app: resending ' + id + '…';
      const { answer } = await post('/_sandbox/events-sent/' + encodeURIComponent(id) + '/resend', {
        new_event_id: resendButton.classList.contains('resend-new'),
      });
      if (resendButton.isConnected) resendButton.disabled = false;
      report(answer);
      return;
    }
    const inviteButton = event.target.closest('#invite-app');
    if (inviteButton) {
      inviteButton.disabled = true;
      const { ok, answer } = await post(
        '/_sandbox/channels/' + encodeURIComponent(inviteButton.dataset.channel) + '/invite-app',
        { team: selection.team },
      );
      $('delivery').textContent = ok ? 'The app is now in this channel.' : 'Not invited: ' + (answer.error || 'no answer');
      $('delivery').classList.toggle('failed', !ok);
      await refresh();
      return;
    }
    const homeAction = event.target.closest('#home-view button[data-action-id], #home-view a[data-action-id]');
    if (homeAction) {
      // As for messages: a URL button opens its link and also sends block_actions.
      const isButton = homeAction.tagName === 'BUTTON';
      if (isButton) homeAction.disabled = true;
      $('delivery').textContent = 'Slack → your app: sending block_actions…';
      const { answer } = await post('/_sandbox/ui/home-click', {
        team: selection.team,
        user: actingUser(),
        block_id: homeAction.dataset.blockId,
        action_id: homeAction.dataset.actionId,
      });
      if (isButton && homeAction.isConnected) homeAction.disabled = false;
      report(answer);
      return;
    }
    const action = event.target.closest('.message button[data-action-id], .message a[data-action-id]');
    if (action) {
      // URL buttons open their link and, as in Slack, also send block_actions.
      const message = action.closest('.message');
      const isButton = action.tagName === 'BUTTON';
      if (isButton) action.disabled = true;
      $('delivery').textContent = 'Slack → your app: sending block_actions…';
      // The block too: a digest repeats action ids (approve, reject) in one block per request.
      const { answer } = await post('/_sandbox/ui/click', {
        channel: message.dataset.channel,
        ts: message.dataset.ts,
        block_id: action.dataset.blockId || '',
        action_id: action.dataset.actionId,
        user: actingUser(),
      });
      if (isButton && action.isConnected) action.disabled = false;
      report(answer);
      if (frozen) $('delivery').textContent += ' · the screen is frozen: resume live updates to see what changed';
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
    closePicker();
    const text = withMentions($('reply-text').value);
    const editing = $('reply-edit-ts').value;
    if (editing) {
      const { ok, answer } = await post('/_sandbox/ui/edit', {
        channel: selection.channel,
        ts: editing,
        user: actingUser(),
        text,
      });
      report(answer);
      if (ok) hideReply();
      await refresh();
      return;
    }
    const { answer } = await post('/_sandbox/ui/reply', {
      channel: selection.channel,
      thread_ts: $('reply-thread').value,
      user: actingUser(),
      text,
    });
    report(answer);
    if (answer.ts) {
      $('reply-text').value = '';
      chosenMentions.clear();
    }
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

  $('act-as').addEventListener('change', (event) => actAs(event.target.value));
  $('workspace').addEventListener('change', (event) => {
    hideReply();
    const team = event.target.value;
    navigate({ team, channel: '', user: rememberedUser(team), tab: '', ts: '' }, true);
  });

  $('freeze').addEventListener('click', () => setFrozen(!frozen));
  $('resume').addEventListener('click', () => {
    setFrozen(false);
    $('freeze').focus();
  });

  $('sidebar-toggle').addEventListener('click', (event) => {
    const open = event.currentTarget.getAttribute('aria-expanded') !== 'true';
    event.currentTarget.setAttribute('aria-expanded', String(open));
  });

  window.addEventListener('popstate', () => {
    const query = new URLSearchParams(location.search);
    selection.team = query.get('team') || '';
    selection.channel = query.get('channel') || '';
    selection.user = query.get('as') || query.get('user') || '';
    selection.tab = query.get('tab') || '';
    selection.ts = query.get('ts') || '';
    refresh(true).then(() => (selection.tab === 'home' ? openedHome() : undefined));
  });

  // --- Run reminders at… -------------------------------------------------------------------
  // Runs the app's reminder pass for a chosen UTC time (the schedule's stand-in) and shows
  // its answer on one line.

  function remindersLine(ok, answer) {
    if (!ok || answer.status === undefined) {
      return 'Reminders not run: ' + (answer.error || 'no answer');
    }
    const at = /T(\d\d:\d\d)/.exec(answer.scheduled_time || '');
    const said = String(answer.summary || answer.body || '(empty answer)').replace(/\s+/g, ' ').trim();
    const shown = said.length > 200 ? said.slice(0, 199) + '…' : said;
    const failed = answer.status < 200 || answer.status >= 300;
    return 'Run for ' + (at ? at[1] : answer.scheduled_time) + ' UTC: ' +
      (failed ? 'HTTP ' + answer.status + ' · ' : '') + shown;
  }

  const remindersForm = $('reminders-form');
  if (remindersForm) {
    remindersForm.addEventListener('submit', async (event) => {
      event.preventDefault();
      const result = $('reminders-result');
      $('reminders-run').disabled = true;
      result.textContent = 'Running…';
      const { ok, answer } = await post('/_sandbox/run-reminders', {
        scheduled_time: $('reminders-time').value,
      });
      $('reminders-run').disabled = false;
      result.textContent = remindersLine(ok, answer);
    });
  }

  // On load: a person named in the URL is remembered; without one, the remembered person
  // comes back (the server drew the default person first).
  const query = new URLSearchParams(location.search);
  const named = query.get('as') || query.get('user');
  const remembered = rememberedUser(selection.team);
  if (!named && remembered && remembered !== selection.user && optionName(remembered) !== undefined) {
    // Shown at once, so a click before the refresh lands already goes as this person.
    showActing(remembered, optionName(remembered));
    navigate({ user: remembered }, false);
  } else {
    rememberUser(selection.team, selection.user);
    // The URL says who is acting from the start (and ?as= becomes ?user=).
    setUrl(false);
  }

  $('channel-title').tabIndex = -1;
  formatDates(document);
  showViews();
  scrollToLinked();
  // Loaded on the Home tab (a link, a reload): the person enters their App Home.
  if (selection.tab === 'home') openedHome();
  poll();
})();
