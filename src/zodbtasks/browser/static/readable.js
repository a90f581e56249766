/* zodbtasks: readable values, redrawn in the browser (issue 12).
 *
 * The server writes times as <time datetime="ISO UTC">: in listings the
 * text is relative ("3 min ago") and the title the full time in the
 * server's zone; on a job's page (data-full) the text is the full time.
 * This redraws the full times in the browser's own zone (Intl, with the
 * zone's name), keeps the relative texts fresh, and adds a Copy button
 * after every element with a data-copy attribute (short job ids: the
 * full id is copied).  Without it the server's texts stay: the pages
 * work without JavaScript.  live.js calls window.zodbtasksReadable.draw
 * on the cells it redraws.
 */
(function () {
  'use strict';
  var parts = ['year', 'month', 'day', 'hour', 'minute', 'second',
               'timeZoneName'];
  var formatter = null;
  try {
    formatter = new Intl.DateTimeFormat(undefined, {
      year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit',
      minute: '2-digit', second: '2-digit', hourCycle: 'h23',
      timeZoneName: 'short'});
  } catch (e) { formatter = null; }

  function full(date) {
    if (!formatter || !formatter.formatToParts) { return null; }
    var found = {};
    formatter.formatToParts(date).forEach(function (part) {
      if (parts.indexOf(part.type) >= 0) { found[part.type] = part.value; }
    });
    return found.year + '-' + found.month + '-' + found.day + ' ' +
      found.hour + ':' + found.minute + ':' + found.second + ' ' +
      (found.timeZoneName || '');
  }

  function age(seconds) {
    var minutes = Math.floor(seconds / 60), hours = Math.floor(seconds / 3600),
        days = Math.floor(seconds / 86400);
    if (seconds < 60) { return Math.floor(seconds) + ' s'; }
    if (seconds < 3600) { return minutes + ' min'; }
    if (seconds < 86400) { return hours + ' h ' + (minutes % 60) + ' min'; }
    return days + ' d ' + (hours % 24) + ' h';
  }

  function relative(date) {
    var delta = (Date.now() - date.getTime()) / 1000;
    if (Math.abs(delta) < 1) { return 'just now'; }
    return delta > 0 ? age(delta) + ' ago' : 'in ' + age(-delta);
  }

  function drawTime(node) {
    var value = node.getAttribute('datetime');
    if (!value) { return; }
    var date = new Date(value);
    if (isNaN(date.getTime())) { return; }
    var text = full(date);
    if (node.hasAttribute('data-full')) {
      if (text) { node.textContent = text; }
    } else {
      if (text) { node.setAttribute('title', text); }
      node.textContent = relative(date);
    }
  }

  function addCopy(node) {
    if (node.getAttribute('data-copy-ready') || !navigator.clipboard) {
      return;
    }
    node.setAttribute('data-copy-ready', '1');
    var button = document.createElement('button');
    button.type = 'button';
    button.className = 'zt-copy';
    button.textContent = 'Copy';
    button.title = 'Copy ' + node.getAttribute('data-copy');
    button.addEventListener('click', function (event) {
      event.preventDefault();
      navigator.clipboard.writeText(node.getAttribute('data-copy')).then(
        function () { button.textContent = 'Copied'; },
        function () { button.textContent = 'Copy failed'; });
      setTimeout(function () { button.textContent = 'Copy'; }, 2000);
    });
    node.parentNode.insertBefore(button, node.nextSibling);
  }

  function draw(root) {
    var scope = root || document;
    Array.prototype.forEach.call(scope.querySelectorAll('time[datetime]'),
                                 drawTime);
    Array.prototype.forEach.call(scope.querySelectorAll('[data-copy]'),
                                 addCopy);
  }

  window.zodbtasksReadable = {draw: draw};
  draw(document);
  setInterval(function () {
    Array.prototype.forEach.call(
      document.querySelectorAll('time[datetime]:not([data-full])'),
      drawTime);
  }, 30000);
}());
