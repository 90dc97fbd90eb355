// The chat socket of one session (docs/protocol.md), signed in by the page's cookie.
// It remembers the newest event_id it has seen and, when the connection drops, reconnects
// by itself with ?after=<that id>: the server replays exactly the events missed, so no
// line is lost or shown twice. The view renders by message id, which makes a replayed
// frame harmless too.

const FINAL_CLOSE_CODES = new Set([1008, 4401, 4404]);

export class ChatSocket {
  constructor(sessionId, handlers) {
    this.sessionId = sessionId;
    this.handlers = handlers; // {frame(frame), state(name, detail)}
    this.lastEventId = 0;
    this.stopped = false;
    this.attempt = 0;
    this.everOpened = false;
    this.ws = null;
  }

  url() {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    const after = this.everOpened ? `?after=${this.lastEventId}` : "";
    return `${scheme}//${location.host}/chat/${this.sessionId}${after}`;
  }

  open() {
    this.handlers.state(this.everOpened ? "reconnecting" : "connecting");
    const ws = new WebSocket(this.url(), ["chattrain.v1"]);
    this.ws = ws;
    ws.addEventListener("open", () => {
      const resumed = this.everOpened;
      this.attempt = 0;
      if (!resumed) ws.send(JSON.stringify({ type: "session_start", content: "", metadata: {} }));
      this.everOpened = true;
      this.handlers.state(resumed ? "reconnected" : "connected");
    });
    ws.addEventListener("message", (event) => {
      let frame;
      try {
        frame = JSON.parse(event.data);
      } catch (error) {
        return;
      }
      if (typeof frame.event_id === "number") {
        if (frame.event_id <= this.lastEventId) return; // already applied
        this.lastEventId = frame.event_id;
      }
      this.handlers.frame(frame);
    });
    ws.addEventListener("close", (event) => {
      if (this.ws !== ws || this.stopped) return;
      if (FINAL_CLOSE_CODES.has(event.code)) {
        this.handlers.state("closed", event.code);
        return;
      }
      this.attempt += 1;
      this.handlers.state("reconnecting");
      const delay = Math.min(8000, 250 * 2 ** Math.min(this.attempt, 5));
      this.timer = setTimeout(() => this.open(), delay);
    });
  }

  send(type, content = "", metadata = {}) {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN) return false;
    this.ws.send(JSON.stringify({ type, content, metadata }));
    return true;
  }

  close() {
    this.stopped = true;
    clearTimeout(this.timer);
    if (this.ws) this.ws.close(1000, "page left");
  }
}
