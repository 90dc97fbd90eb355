// One session read back: the transcript with the feedback beside each trainee line, the
// report, and (for trainers) the Markdown download.
import { api, ApiError } from "./api.js";
import { h } from "./dom.js";
import { t } from "./i18n.js";
import { feedbackBlock, formatTime, reportBlock, setMain } from "./views_common.js";

export async function reviewView(sessionId, me) {
  const transcript = await api(`/api/sessions/${sessionId}/transcript`);
  let report = transcript.report;
  if (!report && transcript.status !== "active") {
    // The report is written a moment after the session ends: ask until it is there.
    for (let attempt = 0; attempt < 20 && !report; attempt++) {
      try {
        report = await api(`/api/sessions/${sessionId}/report`);
      } catch (error) {
        if (!(error instanceof ApiError) || error.code !== "report_not_ready") throw error;
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
    }
  }
  const scenario = await api(`/api/scenarios/${transcript.scenario_id}`);
  const customer = scenario.persona?.name || t("customer");
  const mine = transcript.user_id === me.id;
  const lines = transcript.messages.map((message) => {
    const trainee = message.role === "user";
    const li = h(`li.msg.${trainee ? "trainee" : "customer"}`, { dataset: { messageId: message.id } },
      h("p.who", {}, trainee ? (mine ? t("you") : transcript.user_id) : customer),
      h("p.text", {}, message.content));
    if (trainee && message.feedback) li.append(feedbackBlock(message.feedback));
    return li;
  });
  setMain(
    h("p", {}, h("a", { href: mine && me.role !== "trainer" ? "#/" : "#/sessions" }, t("backToList"))),
    h("h1", {}, `${transcript.scenario_title} — #${transcript.id}`),
    h("p.muted", {}, `${transcript.user_id} · ${t(transcript.status)} · ${formatTime(transcript.created_at)}`),
    report ? reportBlock(report) : h("p", {}, t("noReport")),
    h("section", { "aria-labelledby": "transcript-title" },
      h("h2#transcript-title", {}, t("transcriptTitle")),
      h("ol.log.transcript", {}, lines)),
    h("p", {}, h("a.button", { href: `/api/sessions/${sessionId}/transcript?format=markdown`, download: `session-${sessionId}.md` }, t("download"))),
  );
}
