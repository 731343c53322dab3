/* The live log pane of /executions/<id>/ (DESIGN §10).
 * Follows ws/executions/<id>/?after=<last sequence>: status first, then stored lines, then live ones.
 * Reconnects with exponential backoff from the last sequence it showed. When the execution completes
 * it stops reconnecting (the server sends nothing after the final status; stored lines of an execution
 * that was already finished still follow its first status message) and refreshes status, duration,
 * error and result from the API and the server-rendered (sanitized) result fragment. */
(function () {
  "use strict";

  const data = JSON.parse(document.getElementById("execution-data").textContent);
  const pane = document.getElementById("log-pane");
  const empty = document.getElementById("log-empty");
  const lineCount = document.getElementById("line-count");
  const statusBadge = document.getElementById("status");
  const duration = document.getElementById("duration");
  const indicator = document.getElementById("connection");

  let lastSequence = 0;
  let shown = 0;
  let complete = false;
  let ticker = null;

  function setState(state, text) {
    indicator.dataset.state = state;
    indicator.textContent = text;
  }

  function formatTime(iso) {
    const date = new Date(iso);
    if (isNaN(date.getTime())) return "";
    return date.toISOString().substring(11, 23);
  }

  function appendLine(message) {
    if (typeof message.sequence !== "number" || message.sequence <= lastSequence) return; // dedup
    lastSequence = message.sequence;
    const atBottom = pane.scrollTop + pane.clientHeight >= pane.scrollHeight - 24;
    const row = document.createElement("div");
    row.className = "log-line level-" + String(message.level || "info").replace(/[^a-z]/g, "");
    row.dataset.sequence = String(message.sequence);
    const parts = [
      ["seq", String(message.sequence)],
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
    pane.appendChild(row);
    shown += 1;
    empty.hidden = true;
    lineCount.textContent = shown + (shown === 1 ? " line" : " lines");
    if (atBottom) pane.scrollTop = pane.scrollHeight;
  }

  function showDuration(ms) {
    duration.textContent = ms === null || ms === undefined ? "—" : ms + " ms";
  }

  function tick() {
    if (complete || !data.started_at) return;
    const seconds = Math.max(0, Math.round((Date.now() - new Date(data.started_at).getTime()) / 1000));
    duration.textContent = "running for " + seconds + " s";
  }

  function setStatus(status) {
    statusBadge.textContent = status;
    statusBadge.dataset.status = status;
    document.title = document.title.replace(/· [A-Za-z]+ ·/, "· " + status + " ·");
  }

  function onStatus(message) {
    setStatus(message.status);
    if (message.duration_ms !== null && message.duration_ms !== undefined) showDuration(message.duration_ms);
    if (message.is_complete && !complete) finish();
  }

  async function refreshDetails() {
    try {
      const response = await fetch(data.api_url, { credentials: "same-origin", headers: { Accept: "application/json" } });
      if (response.ok) {
        const detail = await response.json();
        setStatus(detail.status);
        showDuration(detail.duration_ms);
        const errorBox = document.getElementById("error");
        if (detail.error_message) {
          errorBox.textContent = "";
          if (detail.error_type) {
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

  if (!data.is_complete) {
    tick();
    ticker = window.setInterval(tick, 1000);
  }
  socket.connect();
})();
