/* The live log pane of /executions/<id>/ (DESIGN §10).
 * Follows ws/executions/<id>/?after=<last sequence>: status first, then stored lines, then live ones.
 * Reconnects with exponential backoff from the last sequence it showed. When the execution completes
 * it stops reconnecting (the server sends nothing after the final status; stored lines of an execution
 * that was already finished still follow its first status message) and refreshes status, duration,
 * error and result from the API and the server-rendered (sanitized) result fragment. Each status message is
 * also dispatched on the document as "bifrost:execution-status" (detail: the message) for the page's other
 * live blocks. */
(function () {
  "use strict";

  const data = JSON.parse(document.getElementById("execution-data").textContent);
  const pane = document.getElementById("log-pane");
  const empty = document.getElementById("log-empty");
  const lineCount = document.getElementById("line-count");
  const statusBadge = document.getElementById("status");
  const duration = document.getElementById("duration");
  const indicator = document.getElementById("connection");
  const searchInput = document.getElementById("log-search");
  const levelSelect = document.getElementById("log-level");
  const noMatch = document.getElementById("log-nomatch");
  const labels = data.status_labels || {};
  const LEVEL_RANK = { debug: 0, info: 1, warning: 2, error: 3, traceback: 3 };

  let lastSequence = 0;
  let shown = 0; // lines received; each shows its running number, not its sequence (no gaps from hidden lines)
  let matching = 0;
  let complete = false;
  let ticker = null;

  function setState(state, text) {
    indicator.dataset.state = state;
    indicator.textContent = text;
  }

  function formatTime(iso) {
    const date = new Date(iso);
    if (isNaN(date.getTime())) return "";
    const pad = function (n, width) { return String(n).padStart(width || 2, "0"); };
    return pad(date.getHours()) + ":" + pad(date.getMinutes()) + ":" + pad(date.getSeconds()) + "." +
      pad(date.getMilliseconds(), 3); // the browser's time zone; the full UTC time is in the line's title
  }

  /* The search box and level filter work on the lines already on the page, and on every line that follows. */
  function lineMatches(row) {
    const minimum = levelSelect.value ? LEVEL_RANK[levelSelect.value] : -1;
    if (minimum >= 0 && (LEVEL_RANK[row.dataset.level] === undefined ? 1 : LEVEL_RANK[row.dataset.level]) < minimum) {
      return false;
    }
    const words = searchInput.value.toLowerCase().split(/\s+/).filter(Boolean);
    if (!words.length) return true;
    const text = row.querySelector(".msg").textContent.toLowerCase(); // the message, not the number or time
    return words.every(function (word) { return text.indexOf(word) !== -1; });
  }

  function showCount() {
    const total = shown + (shown === 1 ? " line" : " lines");
    const filtering = searchInput.value.trim() || levelSelect.value;
    lineCount.textContent = filtering ? matching + " of " + total : total;
    noMatch.hidden = !(filtering && shown && !matching);
  }

  function applyFilter() {
    matching = 0;
    pane.querySelectorAll(".log-line").forEach(function (row) {
      row.hidden = !lineMatches(row);
      if (!row.hidden) matching += 1;
    });
    showCount();
  }

  function appendLine(message) {
    if (typeof message.sequence !== "number" || message.sequence <= lastSequence) return; // dedup
    lastSequence = message.sequence;
    const atBottom = pane.scrollTop + pane.clientHeight >= pane.scrollHeight - 24;
    const row = document.createElement("div");
    row.className = "log-line level-" + String(message.level || "info").replace(/[^a-z]/g, "");
    row.dataset.sequence = String(message.sequence);
    row.dataset.level = String(message.level || "info");
    if (message.timestamp) row.title = String(message.timestamp);
    shown += 1;
    const parts = [
      ["seq", String(shown)],
      ["ts", formatTime(message.timestamp)],
      ["lvl", message.level || ""],
      ["msg", message.message || ""],
    ];
    for (const [cls, text] of parts) {
      const span = document.createElement("span");
      span.className = cls;
      span.textContent = text;
      row.appendChild(span);
    }
    row.hidden = !lineMatches(row);
    if (!row.hidden) matching += 1;
    pane.appendChild(row);
    empty.hidden = true;
    showCount();
    if (atBottom) pane.scrollTop = pane.scrollHeight;
  }

  function showDuration(ms) {
    duration.textContent = window.Bifrost.formatDuration(ms);
  }

  // A short run may finish before its Running status is broadcast: the start time comes with the details.
  function showStarted(iso) {
    const startedAt = document.getElementById("started-at");
    if (!startedAt || !iso || startedAt.querySelector("time")) return;
    const time = document.createElement("time");
    time.setAttribute("datetime", iso);
    time.setAttribute("data-local", "");
    startedAt.textContent = "";
    startedAt.appendChild(time);
    window.Bifrost.localizeAll(startedAt);
  }

  function tick() {
    if (complete || !data.started_at) return;
    const seconds = Math.max(0, Math.round((Date.now() - new Date(data.started_at).getTime()) / 1000));
    duration.textContent = "running for " + window.Bifrost.formatDuration(seconds * 1000);
  }

  function setStatus(status) {
    const previous = statusBadge.textContent;
    const label = labels[status] || status;
    statusBadge.textContent = label;
    statusBadge.dataset.status = status;
    document.title = document.title.replace("· " + previous + " ·", "· " + label + " ·");
  }

  function onStatus(message) {
    setStatus(message.status);
    if (message.duration_ms !== null && message.duration_ms !== undefined) showDuration(message.duration_ms);
    if (message.started_at) {
      data.started_at = message.started_at; // the "running for" ticker counts from it
      showStarted(message.started_at);
    }
    // Other blocks of the page follow the run too (the approval card: approvals/execution_approval.js).
    document.dispatchEvent(new CustomEvent("bifrost:execution-status", { detail: message }));
    if (message.is_complete && !complete) finish();
  }

  async function refreshDetails() {
    try {
      const response = await fetch(data.api_url, { credentials: "same-origin", headers: { Accept: "application/json" } });
      if (response.ok) {
        const detail = await response.json();
        setStatus(detail.status);
        showDuration(detail.duration_ms);
        showStarted(detail.started_at);
        const errorBox = document.getElementById("error");
        if (detail.error_message) {
          errorBox.textContent = "";
          if (detail.error_type && detail.error_type !== "UserError") {
            const strong = document.createElement("strong");
            strong.textContent = detail.error_type;
            errorBox.appendChild(strong);
            errorBox.appendChild(document.createTextNode(": "));
          }
          errorBox.appendChild(document.createTextNode(detail.error_message));
          errorBox.hidden = false;
        }
      }
      const fragment = await fetch(data.result_url, { credentials: "same-origin" });
      if (fragment.ok) document.getElementById("result").innerHTML = await fragment.text(); // sanitized by the server
    } catch (err) {
      /* the page keeps what the socket told it */
    }
    document.body.dataset.executionComplete = "true";
  }

  function finish() {
    complete = true;
    const cancel = document.getElementById("cancel-form");
    if (cancel) cancel.hidden = true; // nothing left to cancel
    if (ticker) window.clearInterval(ticker);
    socket.finish("done", "Finished");
    if (data.is_complete) document.body.dataset.executionComplete = "true";
    else refreshDetails(); // it finished while we watched: the page's result block is stale
  }

  const socket = new window.BifrostSocket({
    path: function () { return data.ws_path + "?after=" + lastSequence; },
    onState: setState,
    onMessage: function (message) {
      if (message.type === "log") appendLine(message);
      else if (message.type === "status") onStatus(message);
    },
  });

  searchInput.addEventListener("input", applyFilter);
  levelSelect.addEventListener("change", applyFilter);

  if (!data.is_complete) {
    tick();
    ticker = window.setInterval(tick, 1000);
  }
  socket.connect();
})();
