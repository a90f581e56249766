/* The Jobs tab's selection (issue 12): a checkbox in the table's head
 * selects every job of the page; once every job of the page is selected,
 * the offer "or all N jobs matching this filter" appears (#zt-all-matching,
 * which sends the Selected jobs' buttons to the bulk confirmation).
 * Without this script that offer is always shown; nothing depends on it.
 */
(function () {
  'use strict';
  var form = document.getElementById('zt-jobs-form');
  var all = document.getElementById('zt-all-matching');
  var offer = document.getElementById('zt-all-matching-label');
  var head = form && form.querySelector('#zt-job-table thead th');
  if (!form || !all || !offer || !head) {
    return;
  }
  var page = document.createElement('input');
  page.type = 'checkbox';
  page.id = 'zt-select-page';
  page.title = 'Select every job of this page';
  head.appendChild(page);

  function boxes() {
    return Array.prototype.slice.call(
      form.querySelectorAll('input[name="ids:list"]'));
  }

  function update() {
    var found = boxes();
    var checked = found.filter(function (box) { return box.checked; });
    page.checked = found.length > 0 && checked.length === found.length;
    offer.hidden = !page.checked;
    if (!page.checked) {
      all.checked = false;
    }
  }

  page.addEventListener('change', function () {
    boxes().forEach(function (box) { box.checked = page.checked; });
    update();
  });
  form.addEventListener('change', function (event) {
    if (event.target.name === 'ids:list') {
      update();
    }
  });
  update();
}());
