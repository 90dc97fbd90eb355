// Pieces several views share: feedback, the report, the status line and error alerts.
import { h, clear } from "./dom.js";
import { t, errorSentence } from "./i18n.js";

export function say(text) {
  const status = document.getElementById("status");
  status.textContent = text;
}

export function showError(error) {
  const alert = document.getElementById("alert");
  if (!error) {
    alert.hidden = true;
    alert.textContent = "";
    return;
  }
  alert.textContent = typeof error === "string" ? error : errorSentence(error);
  alert.hidden = false;
}

/** Per-reply feedback: `worked`/`improve` when the server sends them, else `suggestions`. */
export function feedbackBlock(feedback) {
  const box = h("aside.feedback", { "aria-label": t("feedback") });
  box.append(h("p.score", {}, t("score", { n: feedback.score })));
  const items = (list) => h("ul", {}, list.map((item) => h("li", {}, item.criterion ? `${item.criterion}: ${item.text}` : String(item.text ?? item))));
  const worked = Array.isArray(feedback.worked) ? feedback.worked : [];
  const improve = Array.isArray(feedback.improve) ? feedback.improve : [];
  if (worked.length || improve.length) {
    if (worked.length) box.append(h("p.label", {}, t("worked")), items(worked));
    if (improve.length) box.append(h("p.label", {}, t("improve")), items(improve));
  } else if (Array.isArray(feedback.suggestions) && feedback.suggestions.length) {
    box.append(h("p.label", {}, t("suggestions")), items(feedback.suggestions));
  }
  return box;
}

function evidenceList(evidence) {
  if (!Array.isArray(evidence) || !evidence.length) return null;
  return h("ul.evidence", {}, evidence.map((item) => h("li", {}, h("q", {}, item.quote))));
}

/** The end-of-session report; unknown fields are ignored. */
export function reportBlock(report) {
  const section = h("section.report", { "aria-labelledby": "report-title" });
  section.append(h("h2#report-title", {}, t("reportTitle")));
  section.append(h("p.overall", {}, `${t("overall")}: `, h("strong", {}, `${report.overall_score}/100`)));
  if (Array.isArray(report.criteria) && report.criteria.length) {
    section.append(h("h3", {}, t("criteria")));
    section.append(
      h("ul.criteria", {}, report.criteria.map((criterion) =>
        h("li", {},
          h("span.crit-name", {}, criterion.name),
          " ",
          h("meter", { min: 0, max: 100, value: criterion.score, "aria-label": criterion.name }),
          ` ${criterion.score}/100`,
          typeof criterion.weight === "number" ? h("span.muted", {}, ` (${t("weight", { n: criterion.weight })})`) : null,
          evidenceList(criterion.evidence)))),
    );
  }
  for (const [key, title] of [["strengths", t("strengths")], ["improvements", t("improvements")]]) {
    const points = Array.isArray(report[key]) ? report[key] : [];
    if (!points.length) continue;
    section.append(h("h3", {}, title));
    section.append(h("ul.points", {}, points.map((point) => h("li", {}, String(point.text ?? ""), evidenceList(point.evidence)))));
  }
  return section;
}

export function setMain(...children) {
  const main = clear(document.getElementById("main"));
  main.append(...children);
  return main;
}

export function formatTime(iso) {
  if (!iso) return "";
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : date.toLocaleString(document.documentElement.lang);
}
