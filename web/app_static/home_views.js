// Lists: a trainee's scenarios and earlier sessions; a trainer's sessions with filters and
// the per-scenario statistics.
import { api } from "./api.js";
import { h, clear } from "./dom.js";
import { t, errorSentence } from "./i18n.js";
import { formatTime, say, setMain, showError } from "./views_common.js";

function sessionsTable(sessions, me, scenarios) {
  if (!sessions.length) return h("p", {}, t("noSessions"));
  const titleOf = (id) => scenarios.find((s) => s.id === id)?.title || String(id);
  return h("div.table-wrap", {},
    h("table.sessions", {},
      h("thead", {}, h("tr", {}, [t("colSession"), t("colTrainee"), t("colScenario"), t("colStatus"), t("colScore"), t("colStarted"), t("colActions")].map((label) => h("th", { scope: "col" }, label)))),
      h("tbody", {}, sessions.map((session) => {
        const actions = [h("a", { href: `#/session/${session.id}` }, t("review"))];
        if (session.status === "active") {
          const live = session.user_id === me.id ? t("continue") : t("watch");
          actions.push(" · ", h("a", { href: `#/chat/${session.id}` }, live));
        }
        return h("tr", {},
          h("td", {}, `#${session.id}`),
          h("td", {}, session.user_id),
          h("td", {}, titleOf(session.scenario_id)),
          h("td", {}, t(session.status)),
          h("td", {}, session.overall_score ?? "—"),
          h("td", {}, formatTime(session.created_at)),
          h("td", {}, ...actions));
      }))));
}

export async function traineeHome(me) {
  const [scenarios, sessions] = await Promise.all([api("/api/scenarios"), api("/api/sessions?limit=50")]);
  const cards = scenarios.map((scenario) => {
    const start = h("button.primary", { type: "button" }, t("start"));
    start.addEventListener("click", async () => {
      start.disabled = true;
      say(t("starting"));
      try {
        const session = await api("/api/sessions", { method: "POST", body: { scenario_id: scenario.id } });
        location.hash = `#/chat/${session.id}`;
      } catch (error) {
        showError(error);
        start.disabled = false;
      }
    });
    const persona = scenario.persona || {};
    return h("li.card", { dataset: { slug: scenario.slug } },
      h("h3", {}, scenario.title),
      h("p", {}, scenario.description),
      h("p.meta", {},
        persona.name ? `${t("customer")}: ${persona.name}${persona.role ? ` — ${persona.role}` : ""}` : null,
        persona.name ? h("br") : null,
        t("minutes", { n: scenario.duration_minutes })),
      scenario.objectives?.length ? h("details", {}, h("summary", {}, t("objectives")), h("ul", {}, scenario.objectives.map((o) => h("li", {}, o)))) : null,
      scenario.documents?.length
        ? h("div", {}, h("p.label", {}, t("documents")), h("ul.doc-names", {}, scenario.documents.map((doc) => h("li", {}, doc.title || doc.filename))))
        : null,
      start);
  });
  setMain(
    h("h1", {}, t("scenariosTitle")),
    h("ul.cards", {}, cards),
    h("h2", {}, t("earlierTitle")),
    sessionsTable(sessions, me, scenarios),
  );
}

export async function trainerHome(me, query) {
  const scenarios = await api("/api/scenarios");
  const params = new URLSearchParams();
  for (const key of ["user_id", "scenario_id", "status"]) if (query.get(key)) params.set(key, query.get(key));
  params.set("limit", "100");
  const results = h("div#results");
  const trainee = h("input#f-trainee", { type: "text", value: query.get("user_id") || "", autocomplete: "off" });
  const scenario = h("select#f-scenario", {}, h("option", { value: "" }, t("any")), scenarios.map((s) => h("option", { value: String(s.id) }, s.title)));
  scenario.value = query.get("scenario_id") || "";
  const status = h("select#f-status", {}, ["", "active", "completed"].map((value) => h("option", { value }, value ? t(value) : t("any"))));
  status.value = query.get("status") || "";
  const form = h("form.filters", {},
    h("label", { for: "f-trainee" }, t("filterTrainee")), trainee,
    h("label", { for: "f-scenario" }, t("filterScenario")), scenario,
    h("label", { for: "f-status" }, t("filterStatus")), status,
    h("button.primary", { type: "submit" }, t("apply")));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const next = new URLSearchParams();
    if (trainee.value.trim()) next.set("user_id", trainee.value.trim());
    if (scenario.value) next.set("scenario_id", scenario.value);
    if (status.value) next.set("status", status.value);
    location.hash = `#/sessions?${next}`;
  });
  setMain(h("h1", {}, t("navSessions")), form, results);
  try {
    const sessions = await api(`/api/sessions?${params}`);
    clear(results).append(sessionsTable(sessions, me, scenarios));
  } catch (error) {
    clear(results).append(h("p.error", {}, errorSentence(error)));
  }
}

export async function statsView() {
  const scenarios = await api("/api/scenarios");
  const stats = await Promise.all(scenarios.map((scenario) => api(`/api/scenarios/${scenario.id}/stats`)));
  const percent = (value) => (value == null ? "—" : `${Math.round(value * 100)}%`);
  setMain(
    h("h1", {}, t("statsTitle")),
    h("div.table-wrap", {},
      h("table.stats", {},
        h("thead", {}, h("tr", {}, [t("colScenario"), t("statSessions"), t("statCompleted"), t("statCompletion"), t("statMean"), t("statMedian"), t("statMissed")].map((label) => h("th", { scope: "col" }, label)))),
        h("tbody", {}, scenarios.map((scenario, index) => {
          const stat = stats[index];
          const missed = (stat.most_missed_keywords || []).map((item) => `${item.keyword} (${item.count})`).join(", ");
          return h("tr", {},
            h("th", { scope: "row" }, scenario.title),
            h("td", {}, stat.sessions),
            h("td", {}, stat.completed),
            h("td", {}, percent(stat.completion_rate)),
            h("td", {}, stat.mean_score == null ? "—" : Math.round(stat.mean_score)),
            h("td", {}, stat.median_score == null ? "—" : Math.round(stat.median_score)),
            h("td", {}, missed || t("none")));
        }))))
  );
}
