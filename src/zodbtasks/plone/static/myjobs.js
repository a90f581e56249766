/* zodbtasks: the "my jobs" viewlet keeps itself up to date.
 *
 * It asks data-url (the JSON of @@zodbtasks-my-jobs) every data-interval
 * milliseconds, less often while the tab is hidden, and redraws the
 * running jobs, their progress bars and the failures in place.  When a
 * job of the user completes, it fires the DOM event
 * "zodbtasks:job-completed" on document (detail: the job, as the JSON
 * has it); and when an element of the page says
 * data-zodbtasks-reload-on="<job id>", the page reloads once that job
 * completed (collective.async's "refresh the folder contents").
 *
 * Pages may listen themselves:
 *   document.addEventListener('zodbtasks:job-completed', function (e) {
 *     console.log('job', e.detail.id, 'of', e.detail.task, 'completed');
 *   });
 */
(function () {
  'use strict';
  var box = document.getElementById('zodbtasks-myjobs');
  if (!box || !window.fetch) { return; }
  var url = box.getAttribute('data-url');
  var interval = parseInt(box.getAttribute('data-interval'), 10) || 4000;
  var since = box.getAttribute('data-since') || '';
  var timer = null;

  function element(tag, className, text) {
    var node = document.createElement(tag);
    if (className) { node.className = className; }
    if (text !== undefined && text !== null) { node.textContent = text; }
    return node;
  }

  function jobItem(job) {
    var item = element('li', 'zodbtasks-job zodbtasks-' + job.status);
    item.setAttribute('data-job', job.id);
    var link = element('a', null, job.task);
    link.href = job.url;
    item.appendChild(link);
    item.appendChild(document.createTextNode(' '));
    var bar = element('progress');
    bar.max = 100;
    if (job.progress !== null) {
      bar.value = Math.round(job.progress * 100);
      bar.textContent = bar.value + ' %';
    } else {
      bar.textContent = job.status;
    }
    item.appendChild(bar);
    item.appendChild(element('span', 'zodbtasks-message',
                             job.message ? ' ' + job.message : ''));
    return item;
  }

  function failureItem(job) {
    var item = element('li', 'zodbtasks-failure');
    item.setAttribute('data-job', job.id);
    var link = element('a', null, job.task);
    link.href = job.url;
    item.appendChild(link);
    item.appendChild(document.createTextNode(' failed: '));
    item.appendChild(element('span', 'zodbtasks-error', job.error));
    var button = element('button', 'btn btn-sm btn-link', 'Dismiss');
    button.type = 'button';
    button.addEventListener('click', function () { dismiss(job.id); });
    item.appendChild(button);
    return item;
  }

  function replace(list, items) {
    while (list.firstChild) { list.removeChild(list.firstChild); }
    items.forEach(function (item) { list.appendChild(item); });
  }

  function draw(state) {
    var waiting = state.running.concat(state.queued);
    replace(box.querySelector('.zodbtasks-running'), waiting.map(jobItem));
    replace(box.querySelector('.zodbtasks-failures'),
            state.failures.map(failureItem));
    box.querySelector('.zodbtasks-running-count').textContent =
      state.counts.running;
    box.querySelector('.zodbtasks-queued-count').textContent =
      state.counts.queued;
    box.hidden = !(waiting.length || state.failures.length);
    state.completed.forEach(function (job) {
      document.dispatchEvent(new CustomEvent('zodbtasks:job-completed',
                                             {detail: job}));
      if (document.querySelector(
          '[data-zodbtasks-reload-on="' + job.id + '"]')) {
        window.location.reload();
      }
    });
  }

  function poll() {
    timer = null;
    fetch(url + '?since=' + encodeURIComponent(since),
          {credentials: 'same-origin', headers: {Accept: 'application/json'}})
      .then(function (response) {
        if (!response.ok) { throw new Error(response.status); }
        return response.json();
      })
      .then(function (state) {
        since = String(state.time);
        draw(state);
        schedule();
      })
      .catch(function () { schedule(interval * 4); });
  }

  function schedule(wait) {
    if (timer) { clearTimeout(timer); }
    timer = setTimeout(poll, wait || (document.hidden ? interval * 5
                                                      : interval));
  }

  function dismiss(jobid) {
    var body = new URLSearchParams();
    body.append('id', jobid);
    body.append('_authenticator', box.getAttribute('data-authenticator'));
    fetch(box.getAttribute('data-dismiss-url'),
          {method: 'POST', credentials: 'same-origin', body: body})
      .then(function () { poll(); });
  }

  box.querySelectorAll('form.zodbtasks-dismiss').forEach(function (form) {
    form.addEventListener('submit', function (event) {
      event.preventDefault();
      dismiss(form.querySelector('input[name=id]').value);
    });
  });
  document.addEventListener('visibilitychange', function () {
    if (!document.hidden) { schedule(10); }
  });
  window.zodbtasksPoll = poll;
  schedule();
}());
