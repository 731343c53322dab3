/* Live status updates for the /executions/ table over ws/executions/ (reconnects with backoff). */
(function () {
  "use strict";

  const data = JSON.parse(document.getElementById("history-data").textContent);
  const indicator = document.getElementById("connection");
  const notice = document.getElementById("new-executions");

  function onStatus(message) {
    const row = document.querySelector('tr[data-execution-id="' + CSS.escape(message.execution_id) + '"]');
    if (!row) {
      notice.hidden = false;
      return;
    }
    const badge = row.querySelector(".badge");
    badge.textContent = message.status;
    badge.dataset.status = message.status;
    if (message.duration_ms !== null && message.duration_ms !== undefined) {
      row.querySelector(".duration").textContent = message.duration_ms + " ms";
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
