/* A WebSocket that reconnects with exponential backoff (shared by the log viewer and history pages). */
(function (global) {
  "use strict";

  const TERMINAL_CODES = { 4001: "Signed out: reload the page to sign in", 4003: "Not allowed", 4004: "Not found" };

  function ReconnectingSocket(options) {
    this.options = options; // {path(): string, onMessage(msg), onState(state, text), maxDelayMs}
    this.attempts = 0;
    this.stopped = false;
    this.socket = null;
    this.timer = null;
  }

  ReconnectingSocket.prototype.url = function () {
    const proto = global.location.protocol === "https:" ? "wss:" : "ws:";
    return proto + "//" + global.location.host + this.options.path();
  };

  ReconnectingSocket.prototype.connect = function () {
    if (this.stopped) return;
    const self = this;
    this.options.onState(this.attempts ? "reconnecting" : "connecting", "Connecting…");
    const socket = new WebSocket(this.url());
    this.socket = socket;
    socket.onopen = function () {
      self.attempts = 0;
      self.options.onState("live", "Live");
    };
    socket.onmessage = function (event) {
      let message;
      try {
        message = JSON.parse(event.data);
      } catch (err) {
        return;
      }
      if (message && message.type === "heartbeat") return; // the server's keep-alive: nothing to show
      self.options.onMessage(message);
    };
    socket.onclose = function (event) {
      if (self.socket === socket) self.socket = null;
      if (self.stopped) return;
      if (TERMINAL_CODES[event.code]) {
        self.stopped = true;
        self.options.onState("error", TERMINAL_CODES[event.code]);
        return;
      }
      const base = Math.min(self.options.maxDelayMs || 30000, 500 * Math.pow(2, self.attempts));
      const delay = Math.round(base * (0.8 + Math.random() * 0.4));
      self.attempts += 1;
      self.options.onState("reconnecting", "Reconnecting in " + Math.max(1, Math.round(delay / 1000)) + " s…");
      self.timer = global.setTimeout(function () { self.connect(); }, delay);
    };
  };

  /* The stream has ended: keep the socket open (messages still queued arrive) but never reconnect. */
  ReconnectingSocket.prototype.finish = function (state, text) {
    this.stopped = true;
    if (this.timer) global.clearTimeout(this.timer);
    this.options.onState(state || "done", text || "Finished");
  };

  ReconnectingSocket.prototype.stop = function (state, text) {
    this.stopped = true;
    if (this.timer) global.clearTimeout(this.timer);
    if (this.socket) this.socket.close(1000);
    this.options.onState(state || "done", text || "Finished");
  };

  global.BifrostSocket = ReconnectingSocket;
})(window);
