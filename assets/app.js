/* tenantdesk — progressive enhancement on top of htmx. Plain ES2019, no modules.
 * Works without htmx (the htmx:* listeners then simply never fire) and does nothing on pages
 * without the elements it enhances. CSP-safe: no eval, no inline styles. */
(function () {
  'use strict';

  var NEAR_BOTTOM_PX = 80;
  var RELATIVE_TIME_EVERY_MS = 30000;
  var COPIED_FOR_MS = 1600;
  var POLL_BACKOFF_MAX_MS = 30000;
  var BLANK_MESSAGE = 'Write a message first.';
  var BLANK_NOTE = 'Write the note first.';
  var TYPING_FOR_MS = 4000;

  function byId(id) { return document.getElementById(id); }
  function messageList() { return byId('messages'); }
  function composerOf(node) {
    return node && node.closest ? node.closest('form[data-composer]') : null;
  }
  function isPoll(elt) { return !!(elt && elt.hasAttribute && elt.hasAttribute('data-poll')); }
  // The element that issued the request (htmx sets detail.elt to the event's own target).
  function requester(detail) { return detail && detail.requestConfig ? detail.requestConfig.elt : null; }
  function statusOf(detail) { return detail && detail.xhr ? detail.xhr.status : 0; }
  function is2xx(status) { return status >= 200 && status < 300; }

  /** Message id number from an element id "msg-N", or -1. */
  function msgNumber(el) {
    var m = el && el.id ? /^msg-(\d+)$/.exec(el.id) : null;
    return m ? parseInt(m[1], 10) : -1;
  }

  // ---------------------------------------------------------------- composers
  // A composer is a form[data-composer]: the reply to the customer (#composer) or an internal
  // note (#note-composer). Each has one textarea and its own error line ([data-error]).
  function fieldOf(form) { return form ? form.querySelector('textarea') : null; }
  function blankText(form) { return form && form.id === 'note-composer' ? BLANK_NOTE : BLANK_MESSAGE; }
  function setComposerError(form, text) {
    var el = form ? form.querySelector('[data-error]') : null;
    if (el) { el.textContent = text || ''; }
  }

  // ---------------------------------------------------------------- scrolling
  function listScrolls(list) {
    if (list.scrollHeight <= list.clientHeight + 1) { return false; }
    var oy = window.getComputedStyle(list).overflowY;
    return oy === 'auto' || oy === 'scroll';
  }

  /** Is the newest message (nearly) in view: bottom of the list, or bottom of the window on phones. */
  function nearBottom(list) {
    if (listScrolls(list)) {
      return list.scrollHeight - list.scrollTop - list.clientHeight <= NEAR_BOTTOM_PX;
    }
    var rect = list.getBoundingClientRect();
    return rect.bottom <= (window.innerHeight || document.documentElement.clientHeight) + NEAR_BOTTOM_PX;
  }

  function scrollToNewest(list) {
    if (listScrolls(list)) {
      list.scrollTop = list.scrollHeight;
      return;
    }
    var last = list.lastElementChild;
    if (last && last.scrollIntoView) { last.scrollIntoView({ block: 'nearest' }); }
  }

  // ---------------------------------------------------------------- message list bookkeeping
  // Ids of messages appended from our own send response that no poll has returned yet. The poll
  // cursor ignores them: a message written by the other side just before ours has a smaller id
  // and would otherwise be skipped for good.
  var sentNotPolled = Object.create(null);

  /** Poll cursor: the largest message number in the list, not counting unpolled own sends. */
  function pollCursor(list) {
    var max = 0;
    var kids = list.children;
    for (var i = 0; i < kids.length; i++) {
      var n = msgNumber(kids[i]);
      if (n > max && !sentNotPolled[kids[i].id]) { max = n; }
    }
    return max;
  }

  /** Elements appended after `marker` (all children when marker is null or gone). */
  function nodesAfter(list, marker) {
    var out = [];
    var el = marker && marker.parentNode === list ? marker.nextElementSibling : list.firstElementChild;
    for (; el; el = el.nextElementSibling) { out.push(el); }
    return out;
  }

  /**
   * Removes later duplicates among `nodes` (the first element with an id wins: getElementById
   * returns the first in document order), then moves survivors back into id order. O(new nodes).
   * Returns the survivors.
   */
  function dedupeAndOrder(list, nodes) {
    var kept = [];
    for (var i = 0; i < nodes.length; i++) {
      var node = nodes[i];
      if (node.parentNode !== list) { continue; }
      if (node.id) {
        var first = document.getElementById(node.id);
        if (first && first !== node && first.parentNode === list) {
          list.removeChild(node);
          continue;
        }
      }
      kept.push(node);
    }
    for (var k = 0; k < kept.length; k++) {
      var n = msgNumber(kept[k]);
      if (n < 0) { continue; }
      var before = kept[k].previousElementSibling;
      while (before && msgNumber(before) > n) { before = before.previousElementSibling; }
      var want = before ? before.nextElementSibling : list.firstElementChild;
      if (want !== kept[k]) { list.insertBefore(kept[k], want); }
    }
    return kept;
  }

  /** Full pass with a Set-like map, O(n): safety net after settling. */
  function dedupeAll(list) {
    var seen = Object.create(null);
    var kids = Array.prototype.slice.call(list.children);
    for (var i = 0; i < kids.length; i++) {
      var id = kids[i].id;
      if (!id) { continue; }
      if (seen[id]) { list.removeChild(kids[i]); } else { seen[id] = true; }
    }
  }

  // State captured at htmx:beforeSwap for the swap into #messages that follows.
  var pending = null;

  // ---------------------------------------------------------------- poll back-off
  var pollFailures = 0;
  var pollResumeAt = 0;
  function pollFailed() {
    pollFailures = Math.min(pollFailures + 1, 10);
    pollResumeAt = Date.now() + Math.min(POLL_BACKOFF_MAX_MS, 2000 * Math.pow(2, pollFailures - 1));
  }
  function pollSucceeded() { pollFailures = 0; pollResumeAt = 0; }

  // ---------------------------------------------------------------- htmx events
  document.addEventListener('htmx:configRequest', function (evt) {
    var d = evt.detail;
    if (!d) { return; }
    var meta = document.querySelector('meta[name="csrf-token"]');
    var token = meta ? meta.getAttribute('content') : '';
    if (token && d.headers) { d.headers['X-CSRF-Token'] = token; }

    var elt = d.elt;
    if (isPoll(elt)) {
      // Skip this tick while offline or backing off after failures: no request, no error noise.
      if (navigator.onLine === false || Date.now() < pollResumeAt) {
        evt.preventDefault();
        return;
      }
      if (d.parameters) {
        d.parameters.after = String(pollCursor(elt));
        // The team's ticket page: who else is here (the poll answers it only when it changed)
        // and whether this person is writing.
        var here = byId('presence');
        if (here) {
          d.parameters.p = here.getAttribute('data-sig') || '';
          if (Date.now() - lastTyped < TYPING_FOR_MS) { d.parameters.typing = '1'; }
        }
      }
      return;
    }
    var form = composerOf(elt);
    if (form && form === elt) {
      var ta = fieldOf(form);
      if (ta && !ta.value.trim() && !hasFiles(form)) {
        evt.preventDefault();
        setComposerError(form, blankText(form));
        ta.focus();
      }
    }
  });

  document.addEventListener('htmx:beforeRequest', function (evt) {
    var elt = evt.detail && evt.detail.elt;
    if (composerOf(elt) === elt && elt) { setComposerError(elt, ''); }
  });

  document.addEventListener('htmx:beforeSwap', function (evt) {
    var d = evt.detail;
    if (!d) { return; }
    var from = requester(d);
    var status = statusOf(d);

    if (isPoll(from)) {
      if (is2xx(status)) {
        pollSucceeded();
      } else {
        // 429/5xx/...: keep quiet, swap nothing, poll again later.
        d.shouldSwap = false;
        d.isError = false;
        pollFailed();
        return;
      }
    } else if (composerOf(from) === from && from && !is2xx(status)) {
      // A failed send the server did not retarget (rate limit, expired form, server error):
      // never append an error page to the message list; say it next to the composer instead.
      var errBox = from.querySelector('[data-error]');
      if (errBox && d.target === errBox && status === 413) {
        // A file over the limit: the server's sentence names it (htmx swaps no 413 itself).
        d.shouldSwap = true;
        d.isError = false;
      }
      if (!errBox || d.target !== errBox) {
        d.shouldSwap = false;
        d.isError = false;
        setComposerError(from, errorText(d.serverResponse, status));
        return;
      }
    }

    var list = messageList();
    if (list && d.target === list && d.shouldSwap) {
      pending = {
        marker: list.lastElementChild,
        follow: composerOf(from) === from && !!from ? true : nearBottom(list),
        own: composerOf(from) === from && !!from
      };
    }
  });

  document.addEventListener('htmx:afterSwap', function (evt) {
    var list = messageList();
    if (!list || evt.target !== list || !pending) { return; }
    var p = pending;
    pending = null;
    var fresh = nodesAfter(list, p.marker);
    var fromPoll = isPoll(requester(evt.detail));
    if (fromPoll) {
      for (var i = 0; i < fresh.length; i++) { delete sentNotPolled[fresh[i].id]; }
    }
    var kept = dedupeAndOrder(list, fresh);
    if (p.own) {
      for (var j = 0; j < kept.length; j++) { if (kept[j].id) { sentNotPolled[kept[j].id] = true; } }
    }
    if (kept.length && p.follow) { scrollToNewest(list); }
  });

  document.addEventListener('htmx:afterSettle', function (evt) {
    var list = messageList();
    if (list && evt.target === list) { dedupeAll(list); }
  });

  document.addEventListener('htmx:afterRequest', function (evt) {
    var d = evt.detail;
    var form = d && d.elt;
    if (!form || composerOf(form) !== form) { return; }
    var ta = fieldOf(form);
    // htmx calls 409/422 "successful" (they swap an error message): check the status itself.
    showProgress(form, -1);
    if (d.successful && is2xx(statusOf(d))) {
      form.reset();
      if (ta) { ta.value = ''; }
      setComposerError(form, '');
      lastTyped = 0;
    }
    if (ta) {
      var active = document.activeElement;
      if (!active || active === document.body || form.contains(active)) { ta.focus(); }
    }
  });

  document.addEventListener('htmx:sendError', function (evt) {
    var elt = evt.detail && evt.detail.elt;
    if (isPoll(elt)) { pollFailed(); return; }
    if (composerOf(elt) === elt && elt) {
      setComposerError(elt, 'Could not reach the server. Check your connection and try again.');
    }
  });

  document.addEventListener('htmx:responseError', function (evt) {
    var elt = evt.detail && evt.detail.elt;
    var box = elt && elt.querySelector ? elt.querySelector('[data-error]') : null;
    if (elt && composerOf(elt) === elt && box && !box.textContent) {
      setComposerError(elt, errorText(evt.detail.serverResponse || (evt.detail.xhr && evt.detail.xhr.responseText), statusOf(evt.detail)));
    }
  });

  /** Plain text for a failed send, from the server's error fragment when it has one. */
  function errorText(html, status) {
    var text = '';
    if (typeof html === 'string' && html && window.DOMParser) {
      try {
        var doc = new DOMParser().parseFromString(html, 'text/html');
        var el = doc.querySelector('.error-message') || doc.querySelector('.field-error');
        text = el ? el.textContent.trim() : '';
      } catch (e) { text = ''; }
    }
    if (text) { return text; }
    return 'The message could not be sent' + (status ? ' (error ' + status + ')' : '') + '. Please try again.';
  }

  // ---------------------------------------------------------------- attachments
  // The reply composer may carry files (input[type=file]); while they upload, its progress bar
  // (progress[data-progress]) shows how much of the request has been sent.
  function hasFiles(form) {
    var input = form ? form.querySelector('input[type="file"]') : null;
    return !!(input && input.files && input.files.length);
  }

  /** Shows the composer's progress bar at percent (0–100), or hides it (percent < 0). */
  function showProgress(form, percent) {
    var bar = form ? form.querySelector('progress[data-progress]') : null;
    if (!bar) { return; }
    if (percent < 0) {
      bar.hidden = true;
      bar.value = 0;
      return;
    }
    bar.hidden = false;
    bar.value = percent;
  }

  document.addEventListener('htmx:xhr:progress', function (evt) {
    var form = composerOf(evt.target);
    var d = evt.detail;
    if (!form || !hasFiles(form) || !d || !d.lengthComputable || !d.total) { return; }
    showProgress(form, Math.min(100, Math.round(d.loaded * 100 / d.total)));
  });

  // ---------------------------------------------------------------- search
  // The search page asks as people type (htmx) and is also a plain form (Enter, the button),
  // whose submit loads the results page — or the ticket a number names. Once it is submitted,
  // no live request starts, and a live answer still on its way leaves the address alone: its
  // pushState would cancel the navigation the submit started.
  var searchSubmitted = false;
  function inSearchForm(elt) { return !!(elt && elt.closest && elt.closest('#search-form')); }
  document.addEventListener('submit', function (evt) {
    if (evt.target && evt.target.id === 'search-form') { searchSubmitted = true; }
  });
  window.addEventListener('pageshow', function () { searchSubmitted = false; });
  document.addEventListener('htmx:beforeRequest', function (evt) {
    if (searchSubmitted && inSearchForm(evt.detail && evt.detail.elt)) { evt.preventDefault(); }
  });
  document.addEventListener('htmx:beforeHistoryUpdate', function (evt) {
    if (searchSubmitted && evt.detail && evt.detail.history) { evt.detail.history.type = ''; }
  });

  // ---------------------------------------------------------------- composer keys
  document.addEventListener('keydown', function (evt) {
    var ta = evt.target;
    if (!ta || ta.tagName !== 'TEXTAREA') { return; }
    var form = composerOf(ta);
    if (!form || fieldOf(form) !== ta) { return; }
    if (picker.open && pickerKey(evt)) { return; }
    if (evt.key !== 'Enter' || evt.shiftKey) { return; }
    if (evt.isComposing || evt.keyCode === 229) { return; }
    evt.preventDefault();
    if (evt.repeat) { return; }
    if (!ta.value.trim()) {
      setComposerError(form, blankText(form));
      return;
    }
    var button = form.querySelector('button[type="submit"], button:not([type])');
    if (button && button.disabled) { return; } // a send is in flight
    if (typeof form.requestSubmit === 'function') {
      form.requestSubmit();
    } else if (button) {
      button.click();
    } else {
      form.submit();
    }
  });

  // Without htmx the form posts normally; still refuse a blank message.
  document.addEventListener('submit', function (evt) {
    var form = evt.target;
    if (composerOf(form) !== form || !form) { return; }
    var ta = fieldOf(form);
    if (ta && !ta.value.trim()) {
      evt.preventDefault();
      setComposerError(form, blankText(form));
      ta.focus();
    }
  });

  // ---------------------------------------------------------------- typing, pickers
  // lastTyped is when this person last typed into the reply composer: polls say "typing"
  // for a few seconds after.
  var lastTyped = 0;

  // A picker offers canned replies (type "/" in an empty reply) or colleagues to mention (type
  // "@" in a note). It is a listbox under the composer; arrows move, Enter or Tab inserts,
  // Escape closes. Without JavaScript the page's "Insert a canned reply" form does the job.
  var picker = { open: false, list: null, ta: null, start: 0, active: -1 };

  function pickerOptions() {
    if (!picker.list) { return []; }
    var all = picker.list.querySelectorAll('[role="option"]');
    var out = [];
    for (var i = 0; i < all.length; i++) { if (!all[i].hidden) { out.push(all[i]); } }
    return out;
  }
  function closePicker() {
    if (picker.list) { picker.list.hidden = true; }
    if (picker.ta) { picker.ta.removeAttribute('aria-activedescendant'); picker.ta.setAttribute('aria-expanded', 'false'); }
    picker.open = false;
    picker.active = -1;
  }
  function highlight(i) {
    var opts = pickerOptions();
    for (var k = 0; k < opts.length; k++) { opts[k].setAttribute('aria-selected', k === i ? 'true' : 'false'); }
    picker.active = i;
    if (opts[i]) {
      if (!opts[i].id) { opts[i].id = picker.list.id + '-' + i; }
      picker.ta.setAttribute('aria-activedescendant', opts[i].id);
    }
  }
  function choose(opt) {
    var ta = picker.ta;
    var body = opt.getAttribute('data-body') || '';
    var end = ta.selectionStart;
    ta.value = ta.value.slice(0, picker.start) + body + ta.value.slice(end);
    var at = picker.start + body.length;
    ta.setSelectionRange(at, at);
    closePicker();
    ta.focus();
  }
  /** Handles a key while the picker is open; true when it used the key. */
  function pickerKey(evt) {
    var opts = pickerOptions();
    if (evt.key === 'Escape') { evt.preventDefault(); closePicker(); return true; }
    if (!opts.length) { return false; }
    if (evt.key === 'ArrowDown' || evt.key === 'ArrowUp') {
      evt.preventDefault();
      var n = picker.active + (evt.key === 'ArrowDown' ? 1 : -1);
      highlight((n + opts.length) % opts.length);
      return true;
    }
    if ((evt.key === 'Enter' && !evt.shiftKey) || evt.key === 'Tab') {
      evt.preventDefault();
      choose(opts[Math.max(picker.active, 0)]);
      return true;
    }
    return false;
  }
  /** Opens, filters or closes the picker for the text before the caret of ta. */
  function updatePicker(ta) {
    var list = null, start = -1;
    var before = ta.value.slice(0, ta.selectionStart);
    if (ta.id === 'message') {
      list = byId('canned-picker');
      if (/^\/[^\n]*$/.test(before)) { start = 0; }
    } else if (ta.id === 'note') {
      list = byId('mention-picker');
      var m = /(^|\s)@([\w.+-]*)$/.exec(before);
      if (m) { start = before.length - m[2].length - 1; }
    }
    if (!list || start < 0) { closePicker(); return; }
    var query = before.slice(start + 1).toLowerCase();
    var opts = list.querySelectorAll('[role="option"]');
    var shown = 0;
    for (var i = 0; i < opts.length; i++) {
      var hit = opts[i].textContent.toLowerCase().indexOf(query) >= 0;
      opts[i].hidden = !hit;
      if (hit) { shown++; }
    }
    if (!shown) { closePicker(); return; }
    picker.list = list;
    picker.ta = ta;
    picker.start = start;
    picker.open = true;
    list.hidden = false;
    ta.setAttribute('aria-controls', list.id);
    ta.setAttribute('aria-expanded', 'true');
    highlight(0);
  }

  document.addEventListener('input', function (evt) {
    var ta = evt.target;
    if (!ta || ta.tagName !== 'TEXTAREA' || !composerOf(ta)) { return; }
    if (ta.id === 'message') { lastTyped = ta.value ? Date.now() : 0; }
    updatePicker(ta);
  });
  document.addEventListener('mousedown', function (evt) {
    var opt = evt.target && evt.target.closest ? evt.target.closest('.picker [role="option"]') : null;
    if (opt && picker.open) {
      evt.preventDefault();
      choose(opt);
    } else if (picker.open && evt.target !== picker.ta) {
      closePicker();
    }
  });

  // ---------------------------------------------------------------- copy buttons
  function setupCopyButtons() {
    if (!navigator.clipboard || typeof navigator.clipboard.writeText !== 'function') { return; }
    var buttons = document.querySelectorAll('button[data-copy]');
    for (var i = 0; i < buttons.length; i++) {
      if (byId(buttons[i].getAttribute('data-copy'))) { buttons[i].hidden = false; }
    }
  }

  document.addEventListener('click', function (evt) {
    var button = evt.target && evt.target.closest ? evt.target.closest('button[data-copy]') : null;
    if (!button || !navigator.clipboard) { return; }
    var source = byId(button.getAttribute('data-copy'));
    if (!source) { return; }
    var text = source.textContent.trim();
    // A link shown as a path (the ticket link) is copied as an absolute URL.
    if (text.charAt(0) === '/' && source.closest('a')) { text = location.origin + text; }
    if (!button.hasAttribute('data-label')) { button.setAttribute('data-label', button.textContent); }
    var label = button.getAttribute('data-label');
    function show(msg) {
      button.textContent = msg;
      clearTimeout(button._copyTimer);
      button._copyTimer = setTimeout(function () { button.textContent = label; }, COPIED_FOR_MS);
    }
    navigator.clipboard.writeText(text).then(function () { show('Copied'); }, function () { show('Copy failed'); });
  });

  // ---------------------------------------------------------------- live dashboard regions
  // An element with data-live polls its own page (hx-get + hx-select) and is swapped whole.
  // A tick is skipped while the tab is hidden or while focus is inside the region (a keyboard
  // user would lose their place), and a response whose data-signature equals the current one
  // (nothing changed) is not swapped.
  function isLive(elt) { return !!(elt && elt.hasAttribute && elt.hasAttribute('data-live')); }

  document.addEventListener('htmx:configRequest', function (evt) {
    var elt = evt.detail && evt.detail.elt;
    if (!isLive(elt)) { return; }
    var active = document.activeElement;
    if (document.hidden || navigator.onLine === false || (active && active !== document.body && elt.contains(active))) {
      evt.preventDefault();
    }
  });

  document.addEventListener('htmx:beforeSwap', function (evt) {
    var d = evt.detail;
    var from = requester(d);
    if (!isLive(from)) { return; }
    if (!is2xx(statusOf(d))) {
      d.shouldSwap = false;
      d.isError = false;
      return;
    }
    if (!from.id || typeof d.serverResponse !== 'string' || !window.DOMParser) { return; }
    try {
      var doc = new DOMParser().parseFromString(d.serverResponse, 'text/html');
      var fresh = doc.getElementById(from.id);
      if (fresh && fresh.getAttribute('data-signature') === from.getAttribute('data-signature')) {
        d.shouldSwap = false;
      }
    } catch (e) { /* swap as usual */ }
  });

  // "Load more" replaces the region it sits in (a queue's live region): the keyboard focus
  // moves on to the first row it added (else back to "Load more"), so a keyboard user goes on
  // reading where the list grew instead of starting over at the top of the page.
  var refocus = null;
  document.addEventListener('htmx:beforeRequest', function (evt) {
    var elt = evt.detail && evt.detail.elt;
    if (elt && elt.classList && elt.classList.contains('load-more')) {
      var region = elt.closest('[data-live][id], section[id]');
      refocus = region ? { id: region.id, rows: region.querySelectorAll('.ticket').length } : null;
    }
  });
  document.addEventListener('htmx:afterSettle', function () {
    setupCopyButtons();
    updateTimes();
    if (!refocus) { return; }
    var region = byId(refocus.id);
    var before = refocus.rows;
    refocus = null;
    if (!region) { return; }
    var added = region.querySelectorAll('.ticket')[before];
    var target = (added && added.querySelector('a[href], button')) || region.querySelector('.load-more') ||
      region.querySelector('h2, h3');
    if (target) {
      if (!target.matches('a, button')) { target.setAttribute('tabindex', '-1'); }
      target.focus();
    }
  });

  // ---------------------------------------------------------------- leaving the page
  // Once the person follows a link or sends a plain form, background requests stop and their
  // answers are ignored: a poll's HX-Refresh would otherwise reload the old page over the
  // navigation that is under way (cancelling it, or dropping the flash message it leads to).
  // If the page is still there after a while (a download, a failed request), polling resumes.
  var LEAVING_FOR_MS = 10000;
  var leavingUntil = 0;
  function leaving() { return Date.now() < leavingUntil; }
  function startLeaving() { leavingUntil = Date.now() + LEAVING_FOR_MS; }
  function isBackground(elt) { return isPoll(elt) || isLive(elt); }

  document.addEventListener('click', function (evt) {
    var a = evt.target && evt.target.closest ? evt.target.closest('a[href]') : null;
    if (!a || evt.defaultPrevented || evt.button !== 0 || evt.metaKey || evt.ctrlKey || evt.shiftKey || evt.altKey) { return; }
    var href = a.getAttribute('href') || '';
    if (href.charAt(0) === '#' || a.hasAttribute('download') || a.target || a.hasAttribute('hx-get')) { return; }
    startLeaving();
  });

  document.addEventListener('htmx:configRequest', function (evt) {
    if (leaving() && isBackground(evt.detail && evt.detail.elt)) { evt.preventDefault(); }
  });

  document.addEventListener('htmx:beforeOnLoad', function (evt) {
    if (leaving() && isBackground(requester(evt.detail) || (evt.detail && evt.detail.elt))) { evt.preventDefault(); }
  });

  // ---------------------------------------------------------------- busy plain forms
  // A plain (non-htmx) form shows a spinner on its button and cannot be sent twice while the
  // next page loads.
  document.addEventListener('submit', function (evt) {
    var form = evt.target;
    if (evt.defaultPrevented || !form || form.hasAttribute('hx-post') || form.hasAttribute('data-composer')) { return; }
    var button = evt.submitter || form.querySelector('button[type="submit"], button:not([type])');
    if (!button || button.disabled) { return; }
    // Listeners that may cancel the submit (the blank-message check) were added earlier, so
    // defaultPrevented is final here. The button has no name, so disabling it now does not
    // change what is sent.
    startLeaving();
    button.classList.add('is-busy');
    button.setAttribute('aria-busy', 'true');
    button.disabled = true;
  });
  // Coming back with the browser's Back button can show the page as it was left.
  window.addEventListener('pageshow', function (evt) {
    if (!evt.persisted) { return; }
    leavingUntil = 0;
    var busy = document.querySelectorAll('.is-busy');
    for (var i = 0; i < busy.length; i++) {
      busy[i].classList.remove('is-busy');
      busy[i].removeAttribute('aria-busy');
      busy[i].disabled = false;
    }
  });

  // ---------------------------------------------------------------- relative times
  var MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

  /** Same wording as the server's "ago" template function. */
  function relativeTime(date, now) {
    var s = Math.floor((now - date.getTime()) / 1000);
    if (s < 60) { return 'just now'; }
    var m = Math.floor(s / 60);
    if (m < 60) { return m + ' min ago'; }
    var h = Math.floor(m / 60);
    if (h < 24) { return h + ' h ago'; }
    var days = Math.floor(h / 24);
    if (days < 30) { return days === 1 ? '1 day ago' : days + ' days ago'; }
    return date.getUTCDate() + ' ' + MONTHS[date.getUTCMonth()] + ' ' + date.getUTCFullYear();
  }

  /** Same wording as the server's dueText: a service-level due time, or how long ago it passed. */
  function dueText(date, now) {
    var s = Math.floor((date.getTime() - now) / 1000);
    if (date.getTime() < now) {
      var ago = relativeTime(date, now);
      return (ago === 'just now' || / ago$/.test(ago)) ? 'breached ' + ago : 'breached on ' + ago;
    }
    if (s < 60) { return 'due in less than a minute'; }
    var m = Math.floor(s / 60);
    if (m < 60) { return 'due in ' + m + ' min'; }
    var h = Math.floor(m / 60);
    if (h < 24) { return 'due in ' + h + ' h'; }
    if (h < 48) { return 'due in 1 day'; }
    return 'due in ' + Math.floor(h / 24) + ' days';
  }

  function updateTimes() {
    var now = Date.now();
    var times = document.querySelectorAll('time[datetime][data-ago]');
    for (var i = 0; i < times.length; i++) {
      var d = new Date(times[i].getAttribute('datetime'));
      if (isNaN(d.getTime())) { continue; }
      var text = relativeTime(d, now);
      if (times[i].textContent !== text) { times[i].textContent = text; }
    }
    var dues = document.querySelectorAll('time[datetime][data-due]');
    for (var j = 0; j < dues.length; j++) {
      var at = new Date(dues[j].getAttribute('datetime'));
      if (isNaN(at.getTime())) { continue; }
      var due = dueText(at, now);
      if (dues[j].textContent !== due) { dues[j].textContent = due; }
      var holder = dues[j].closest('.sla-due');
      if (holder && at.getTime() < now && !holder.classList.contains('sla-breached')) {
        holder.classList.add('sla-breached');
        holder.setAttribute('data-sla', 'breached');
      }
    }
  }

  // ---------------------------------------------------------------- start
  function init() {
    var list = messageList();
    if (list && list.lastElementChild) { scrollToNewest(list); }
    setupCopyButtons();
    updateTimes();
    setInterval(updateTimes, RELATIVE_TIME_EVERY_MS);
  }

  // Exposed for tests only; harmless in the page.
  window.tenantdesk = { relativeTime: relativeTime, dueText: dueText, pollCursor: pollCursor, msgNumber: msgNumber };

  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', init);
  } else {
    init();
  }
})();
