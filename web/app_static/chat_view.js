// The chat: the conversation on the left (an ARIA live log), the scenario's documents on
// the right. A trainee writes; a trainer watching someone else's session reads only.
import { api } from "./api.js";
import { ChatSocket } from "./chat.js";
import { h, clear } from "./dom.js";
import { t, errorSentence } from "./i18n.js";
import { documentsPanel } from "./documents.js";
import { feedbackBlock, say, setMain, showError } from "./views_common.js";

export async function chatView(sessionId, me) {
  const session = await api(`/api/sessions/${sessionId}`);
  const scenario = await api(`/api/scenarios/${session.scenario_id}`);
  const readOnly = session.user_id !== me.id;
  const customer = scenario.persona?.name || t("customer");
  // The live region wraps the list (role=log on the <ol> itself would take away its list semantics).
  const log = h("ol.log#log", {});
  const liveLog = h("div.log-region", { role: "log", "aria-live": "polite", "aria-label": t("chatTitle") }, log);
  const typing = h("p.typing", { hidden: true, "aria-hidden": "true" }, t("typing", { name: customer }));
  const input = h("textarea#composer", { rows: 3, maxlength: 4000, "aria-describedby": "composer-help" });
  const sendButton = h("button.primary", { type: "submit" }, t("send"));
  const endButton = h("button", { type: "button" }, t("endSession"));
  const ended = h("div.ended", { hidden: true });
  const form = h("form.composer", {},
    h("label", { for: "composer" }, t("composerLabel")),
    input,
    h("p.muted#composer-help", {}, "Ctrl+Enter"),
    h("div.row", {}, sendButton, endButton));
  const rows = new Map(); // sort key -> element
  let socket;

  function place(key, element) {
    const old = rows.get(key);
    if (old) {
      old.replaceWith(element);
    } else {
      const after = [...rows.keys()].filter((k) => k > key).sort((a, b) => a - b)[0];
      if (after === undefined) log.append(element);
      else rows.get(after).before(element);
    }
    element.dataset.key = String(key);
    rows.set(key, element);
  }

  const pendingFeedback = new Map(); // trainee message id -> feedback that came before its line
  function line(message) {
    const mine = message.role === "user";
    const who = mine ? (readOnly ? session.user_id : t("you")) : customer;
    const li = h(`li.msg.${mine ? "trainee" : "customer"}`, { dataset: { messageId: message.id } },
      h("p.who", {}, who), h("p.text", {}, message.content));
    const feedback = message.feedback || message.metadata?.feedback || pendingFeedback.get(message.id);
    pendingFeedback.delete(message.id);
    if (mine && feedback) li.append(feedbackBlock(feedback));
    return li;
  }

  const drafts = new Map(); // reply_to -> {text, seq}
  const answered = new Set(); // trainee message ids whose reply is shown whole
  function showDraft(replyTo) {
    const draft = drafts.get(replyTo);
    const li = h("li.msg.customer.streaming", { dataset: { replyTo } }, h("p.who", {}, customer), h("p.text", {}, draft.text));
    li.setAttribute("aria-busy", "true");
    place(replyTo + 0.5, li);
  }

  // The line as stored: personal data in it was masked on the way in, and the page
  // shows what everyone else (the trainer, the report) will read.
  async function showStoredText(messageId) {
    try {
      const fresh = await api(`/api/sessions/${sessionId}`);
      const stored = fresh.messages.find((message) => message.id === messageId);
      const text = rows.get(messageId)?.querySelector(".text");
      if (stored && text && text.textContent !== stored.content) text.textContent = stored.content;
    } catch (error) {
      /* the typed text stays; the next load shows the stored one */
    }
  }

  async function fillMissingTraineeLines() {
    const fresh = await api(`/api/sessions/${sessionId}`);
    for (const message of fresh.messages) if (!rows.has(message.id)) addMessage(message);
  }

  function addMessage(message) {
    if (message.role === "assistant" && message.reply_to != null) {
      answered.add(message.reply_to);
      const draft = rows.get(message.reply_to + 0.5);
      if (draft) {
        draft.remove();
        rows.delete(message.reply_to + 0.5);
      }
      drafts.delete(message.reply_to);
    }
    if (rows.has(message.id) && message.role === "user") {
      // Keep feedback already shown beside it.
      return;
    }
    place(message.id, line(message));
  }

  function onFrame(frame) {
    switch (frame.type) {
      case "assistant_message":
        typing.hidden = true;
        addMessage({ id: frame.message_id, role: "assistant", content: frame.content, reply_to: frame.metadata?.reply_to ?? null });
        if (frame.metadata?.reply_to != null && !rows.has(frame.metadata.reply_to)) fillMissingTraineeLines();
        break;
      case "typing":
        if (answered.has(frame.reply_to)) break;
        typing.hidden = false;
        if (!rows.has(frame.reply_to)) fillMissingTraineeLines();
        break;
      case "assistant_delta": {
        if (answered.has(frame.reply_to)) break; // a replayed delta of a reply already shown whole
        const draft = drafts.get(frame.reply_to) || { text: "", seq: -1 };
        if (frame.restart) draft.text = frame.content;
        else if (frame.seq > draft.seq) draft.text += frame.content;
        else break;
        draft.seq = frame.seq;
        drafts.set(frame.reply_to, draft);
        typing.hidden = false;
        showDraft(frame.reply_to);
        if (!rows.has(frame.reply_to)) fillMissingTraineeLines();
        break;
      }
      case "feedback": {
        const li = rows.get(frame.message_id);
        if (li) {
          li.querySelector(".feedback")?.remove();
          li.append(feedbackBlock(frame));
        } else {
          pendingFeedback.set(frame.message_id, frame); // its line is still being fetched
        }
        break;
      }
      case "session_complete":
        typing.hidden = true;
        finish();
        break;
      case "error":
        typing.hidden = true;
        showErrorFrame(frame);
        break;
      default:
        break;
    }
  }

  function showErrorFrame(frame) {
    showError(frame);
    if (frame.reply_to != null && !readOnly && frame.code !== "session_completed") {
      const retry = h("button", { type: "button", onclick: () => { socket.send("retry", "", { message_id: frame.reply_to }); showError(null); retry.remove(); } }, t("retry"));
      document.getElementById("alert").append(" ", retry);
    }
    if (frame.code === "session_completed") finish();
  }

  function finish() {
    form.hidden = true;
    clear(ended).append(h("p", {}, t("sessionEnded")), h("a.button", { href: `#/session/${sessionId}` }, t("readReport")));
    ended.hidden = false;
    say(t("sessionEnded"));
  }

  let pendingText = null;
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const text = input.value;
    if (!text.trim()) {
      showError({ code: "empty_content" });
      return;
    }
    const clientId = `web-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
    if (!socket.send("user_message", text, { client_message_id: clientId })) {
      showError({ code: "network" });
      return;
    }
    pendingText = text;
    showError(null);
    awaitingAck.set(clientId, text);
    input.value = "";
  });
  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) form.requestSubmit();
  });
  endButton.addEventListener("click", () => {
    if (confirm(t("endConfirm"))) {
      socket.send("end_session");
      say(t("waitingReport"));
      endButton.disabled = true;
    }
  });

  const awaitingAck = new Map();
  function handle(frame) {
    if (frame.type === "message_ack") {
      const text = awaitingAck.get(frame.client_message_id) ?? pendingText;
      awaitingAck.delete(frame.client_message_id);
      pendingText = null;
      if (!rows.has(frame.message_id)) place(frame.message_id, line({ id: frame.message_id, role: "user", content: text }));
      showStoredText(frame.message_id);
      return;
    }
    if (frame.type === "error" && frame.event_id === undefined && frame.code !== "read_only") {
      // A message refused before it was stored: give the trainee their text back.
      if (pendingText && !input.value) input.value = pendingText;
      pendingText = null;
    }
    onFrame(frame);
  }

  // The stored transcript first (trainee lines are not socket events), then the socket,
  // whose replay fills in or confirms the rest without repeating a line.
  const transcript = await api(`/api/sessions/${sessionId}/transcript`);
  for (const message of transcript.messages) addMessage(message);

  const header = h("div.chat-head", {},
    h("h1", {}, scenario.title),
    h("p.muted", {}, `${t("customer")}: ${customer}${scenario.persona?.role ? ` — ${scenario.persona.role}` : ""}`),
    readOnly ? h("p.notice", {}, t("watching")) : null);
  const chatColumn = h("section.chat", { "aria-labelledby": "chat-title" },
    h("h2#chat-title.visually-hidden", {}, t("chatTitle")), liveLog, typing, ended, readOnly ? null : form);
  setMain(header, h("div.chat-layout", {}, chatColumn, documentsPanel(scenario)));
  if (session.status !== "active") finish();

  socket = new ChatSocket(sessionId, {
    frame: handle,
    state(name, code) {
      if (name === "reconnecting") say(t("reconnecting"));
      else if (name === "reconnected") say(t("reconnected"));
      else if (name === "connected") say(t("connected"));
      else if (name === "connecting") say(t("connecting"));
      else if (name === "closed") showError({ code: code === 4401 ? "unauthorized" : code === 1008 ? "token_revoked" : "session_not_found" });
    },
  });
  socket.open();
  if (!readOnly && session.status === "active") input.focus();
  return () => socket.close();
}

export { errorSentence };
