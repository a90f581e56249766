/* zodbtasks: the service's pages update themselves in place.
 *
 * The page says where its data is (#zt-live's data-url: @@jobs.json with
 * the Jobs tab's own filters, sort and batch, or its summary for the
 * other pages).  Every data-interval ms (less often while the tab is
 * hidden) this asks it; when the change marker moved (the database
 * changed), it redraws the counts, and in each row of the Jobs tab the
 * status, the progress bar and its message, the start, end and duration;
 * on the other pages it reads the page again and swaps in its live parts
 * (the ids in data-regions), keeping what is typed in forms elsewhere.
 * Rows that are not on the page any more stay as they are until a
 * reload.  A button pauses it; "updated 3 s ago" says how fresh the page
 * is.  The page works without it.  Times come as
 * {datetime, title, text} (see browser/format.py's moment) and are drawn
 * as <time> elements, which readable.js then shows in the browser's zone.
 */
(function () {
  'use strict';
  var live = document.getElementById('zt-live');
  if (!live || !window.fetch) { return; }
  var url = live.getAttribute('data-url');
  var interval = parseInt(live.getAttribute('data-interval'), 10) || 3000;
  var change = live.getAttribute('data-change') || null;
  var regions = (live.getAttribute('data-regions') || '').split(/\s+/)
    .filter(function (id) { return id; });
  var paused = false, timer = null, updated = Date.now();
  var age = live.querySelector('.zt-live-age');
  var button = live.querySelector('button');
  live.hidden = false;

  function text(node, value) {
    if (node && node.textContent !== value) { node.textContent = value; }
  }

  function drawTime(cell, value) {
    if (!cell) { return; }
    var time = cell.querySelector('time');
    if (!value) {
      if (time) { cell.removeChild(time); }
      return;
    }
    if (!time) {
      time = document.createElement('time');
      cell.textContent = '';
      cell.appendChild(time);
    }
    time.setAttribute('datetime', value.datetime);
    time.setAttribute('title', value.title);
    text(time, value.text);
    if (window.zodbtasksReadable) { window.zodbtasksReadable.draw(cell); }
  }

  function drawRow(row) {
    var tr = document.getElementById('zt-job-' + row.id);
    if (!tr) { return; }
    var status = tr.querySelector('.zt-status');
    if (status) {
      text(status, row.status);
      status.className = 'zt-status zt-' + row.status;
    }
    var cell = tr.querySelector('.zt-status-cell');
    var bar = cell && cell.querySelector('.zt-bar');
    if (row.progress === null) {
      if (bar) { bar.parentNode.removeChild(bar); }
    } else if (cell) {
      if (!bar) {
        bar = document.createElement('span');
        bar.className = 'zt-bar';
        bar.appendChild(document.createElement('span'));
        cell.insertBefore(bar, status ? status.nextSibling : null);
      }
      bar.firstChild.style.width = Math.round(row.progress * 100) + '%';
      bar.setAttribute('title', Math.round(row.progress * 100) + ' %');
    }
    text(tr.querySelector('.zt-progress-message'), row.message || '');
    drawTime(tr.querySelector('.zt-col-started'), row.started);
    drawTime(tr.querySelector('.zt-col-completed'), row.completed);
    text(tr.querySelector('.zt-col-duration'), row.duration);
  }

  function draw(data) {
    Object.keys(data.counts).forEach(function (status) {
      text(document.getElementById('zt-live-count-' + status),
           String(data.counts[status]));
    });
    if (data.rows) { data.rows.forEach(drawRow); }
    if (regions.length) { redrawRegions(); }
  }

  function redrawRegions() {
    fetch(window.location.href, {credentials: 'same-origin'})
      .then(function (response) {
        if (!response.ok) { throw new Error(response.status); }
        return response.text();
      })
      .then(function (html) {
        var page = new DOMParser().parseFromString(html, 'text/html');
        regions.forEach(function (id) {
          var old = document.getElementById(id);
          var fresh = page.getElementById(id);
          if (!old || !fresh) { return; }
          var open = Array.prototype.map.call(
            old.querySelectorAll('details[open]'),
            function (node) { return node.getAttribute('data-key'); });
          fresh = document.importNode(fresh, true);
          Array.prototype.forEach.call(
            fresh.querySelectorAll('details[data-key]'), function (node) {
              if (open.indexOf(node.getAttribute('data-key')) >= 0) {
                node.open = true;
              }
            });
          old.parentNode.replaceChild(fresh, old);
          if (window.zodbtasksReadable) {
            window.zodbtasksReadable.draw(fresh);
          }
        });
        document.dispatchEvent(new CustomEvent('zodbtasks:redrawn'));
      })
      .catch(function () { return null; });
  }

  function poll() {
    timer = null;
    if (paused) { return; }
    fetch(url, {credentials: 'same-origin',
                headers: {Accept: 'application/json'}})
      .then(function (response) {
        if (!response.ok) { throw new Error(response.status); }
        return response.json();
      })
      .then(function (data) {
        if (data.change !== change) { change = data.change; draw(data); }
        updated = Date.now();
        schedule();
      })
      .catch(function () { schedule(interval * 4); });
  }

  function schedule(wait) {
    if (timer) { clearTimeout(timer); }
    timer = setTimeout(poll, wait || (document.hidden ? interval * 5
                                                      : interval));
  }

  setInterval(function () {
    text(age, Math.round((Date.now() - updated) / 1000) + ' s');
  }, 1000);
  button.addEventListener('click', function () {
    paused = !paused;
    text(button, paused ? 'Resume updates' : 'Pause updates');
    if (!paused) { poll(); }
  });
  document.addEventListener('visibilitychange', function () {
    if (!document.hidden && !paused) { schedule(10); }
  });
  schedule();
}());
