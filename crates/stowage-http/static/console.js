// The console's only script, served by the stack at /console/static/console.js (the pages' CSP
// allows no other and no inline script). Pages mark what it acts on with data attributes.
'use strict';

// <form data-confirm="Question?">: asks before the form is sent.
document.addEventListener('submit', function (event) {
  const question = event.target.dataset && event.target.dataset.confirm;
  if (question && !window.confirm(question)) {
    event.preventDefault();
  }
});

// <button data-copy="element-id">: copies that element's text, then says so.
document.addEventListener('click', function (event) {
  const button = event.target.closest && event.target.closest('button[data-copy]');
  if (!button) return;
  const text = document.getElementById(button.dataset.copy).textContent;
  navigator.clipboard.writeText(text).then(function () { button.textContent = 'Copied'; });
});

// <input data-filter="selector">: as one types, hides the elements the selector finds whose
// data-search does not contain the text.
document.addEventListener('input', function (event) {
  const selector = event.target.dataset && event.target.dataset.filter;
  if (!selector) return;
  const needle = event.target.value.toLowerCase();
  document.querySelectorAll(selector).forEach(function (row) {
    row.hidden = !(row.dataset.search || '').includes(needle);
  });
});

document.addEventListener('DOMContentLoaded', function () {
  // The upload form's "Load into" choice shows the fields of a new table or of an existing one.
  const into = document.getElementById('into');
  if (into) {
    into.addEventListener('change', function () {
      document.getElementById('new-table').hidden = !!into.value;
      document.getElementById('existing-table').hidden = !into.value;
    });
  }
  const upload = document.getElementById('upload');
  if (upload) {
    uploadForm(upload);
  }
});

// Sends the chosen file as the request body, shows the upload's progress, then opens the table or
// shows the error next to the form.
function uploadForm(upload) {
  upload.addEventListener('submit', function (event) {
    event.preventDefault();
    const form = event.target, file = document.getElementById('file').files[0];
    const bar = document.getElementById('upload-progress'), status = document.getElementById('upload-status');
    const error = document.getElementById('upload-error'), into = document.getElementById('into').value;
    const params = new URLSearchParams();
    if (into) {
      params.set('table', into);
      params.set('incremental', document.getElementById('incremental').checked ? '1' : '0');
    } else {
      params.set('name', document.getElementById('new-name').value);
      params.set('primaryKey', document.getElementById('primary-key').value);
    }
    // The bar stays, showing how much of the file arrived before it failed.
    const fail = function (message) { status.textContent = ''; error.textContent = message; error.hidden = false; };
    const xhr = new XMLHttpRequest();
    xhr.open('POST', form.dataset.url + '?' + params.toString());
    xhr.setRequestHeader('X-CSRF-Token', form.dataset.csrf);
    xhr.setRequestHeader('Content-Type', 'application/octet-stream');
    xhr.upload.onprogress = function (e) {
      if (e.lengthComputable) {
        bar.value = Math.round(100 * e.loaded / e.total);
        status.textContent = 'Uploading: ' + bar.value + ' %';
      }
    };
    xhr.upload.onload = function () { bar.value = 100; status.textContent = 'Uploaded; importing the rows…'; };
    xhr.onload = function () {
      let body = {};
      try { body = JSON.parse(xhr.responseText); } catch (_) {}
      if (xhr.status < 300) { status.textContent = 'Imported.'; window.location.href = body.location; }
      else { fail(body.error || ('The upload failed (HTTP ' + xhr.status + ').')); }
    };
    xhr.onerror = function () { fail('The connection to the stack broke during the upload.'); };
    error.hidden = true; bar.hidden = false; bar.value = 0;
    xhr.send(file);
  });
}
