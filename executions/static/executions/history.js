/* /executions/: live status updates over ws/executions/ (reconnects with backoff), the browser's time zone for
 * the date filters, and readable status labels and durations (window.Bifrost from bifrost_site/site.js). */
(function () {
  "use strict";

  const data = JSON.parse(document.getElementById("history-data").textContent);
  const indicator = document.getElementById("connection");
  const notice = document.getElementById("new-executions");
  const labels = data.status_labels || {};
  const tz = document.getElementById("filter-tz");
  if (tz && !tz.value) tz.value = String(new Date().getTimezoneOffset());
  const panel = document.getElementById("filter-panel");
  if (panel && !panel.hasAttribute("data-in-use") && window.matchMedia("(max-width: 640px)").matches) panel.open = false;

  function onStatus(message) {
    const row = document.querySelector('tr[data-execution-id="' + CSS.escape(message.execution_id) + '"]');
    if (!row) {
      if (data.follow_new) notice.hidden = false;
      return;
    }
    const badge = row.querySelector(".badge");
    badge.textContent = labels[message.status] || message.status;
    badge.dataset.status = message.status;
    if (message.duration_ms !== null && message.duration_ms !== undefined) {
      row.querySelector(".duration").textContent = window.Bifrost.formatDuration(message.duration_ms);
    }
    row.classList.add("updated");
    window.setTimeout(function () { row.classList.remove("updated"); }, 1500);
  }

  const socket = new window.BifrostSocket({
    path: function () { return data.ws_path; },
    onState: function (state, text) {
      indicator.dataset.state = state;
      indicator.textContent = text;
    },
    onMessage: function (message) {
      if (message.type === "status") onStatus(message);
    },
  });
  socket.connect();
})();
