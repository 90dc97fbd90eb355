// The web app's start: sign in (a #sign-in=<code> link, exchanged for a session cookie),
// then route on the address's fragment: #/ (home), #/chat/<id>, #/session/<id>,
// #/sessions?... (trainers), #/stats (trainers), #/people (trainers).
import { api, setCsrfToken } from "./api.js";
import { chatView } from "./chat_view.js";
import { h, clear } from "./dom.js";
import { lang, setLang, t, errorSentence } from "./i18n.js";
import { statsView, trainerHome, traineeHome } from "./home_views.js";
import { peopleView } from "./people_view.js";
import { reviewView } from "./review_view.js";
import { say, setMain, showError } from "./views_common.js";

let me = null;
let leaveView = null;
let signInError = null; // shown on the sign-in page until a sign-in works
let notice = null; // said once the next view is drawn

async function signInFromLink() {
  const match = /^#sign-in=([A-Za-z0-9_-]{1,200})$/.exec(location.hash);
  if (!match) return;
  // Take the code out of the address bar and history before anything else.
  history.replaceState(null, "", `${location.pathname}#/`);
  // A link can be anyone's: one sent to a signed-in person could move them into the
  // sender's account unnoticed, and what they type would then be the sender's to read.
  // So a browser signed in already asks first; the code stays unused unless they agree.
  const current = await signedInUser();
  if (current && !(await confirmSwitch(current))) {
    notice = t("switchDeclined");
    return;
  }
  say(t("signingIn"));
  try {
    const user = await api("/api/sign-in", { method: "POST", body: { code: match[1] } });
    setCsrfToken(user.csrf_token);
    signInError = null;
  } catch (error) {
    signInError = error;
  }
  say("");
}

async function signedInUser() {
  try {
    return await api("/api/me");
  } catch (error) {
    return null; // not signed in (or the server cannot say): nothing to ask about
  }
}

/** Ask whether to leave `current`'s sign-in for the link's user; resolves to true to switch. */
function confirmSwitch(current) {
  const name = current.display_name || current.id;
  document.getElementById("who").textContent = t("signedInAs", { name, role: t(current.role) });
  return new Promise((resolve) => {
    const stay = h("button.primary", { type: "button", onclick: () => resolve(false) }, t("switchStay", { name }));
    const go = h("button", { type: "button", onclick: () => resolve(true) }, t("switchGo"));
    setMain(
      h("h1", {}, t("switchTitle")),
      h("p", {}, t("switchQuestion", { name })),
      h("p.actions", {}, stay, " ", go),
    );
    stay.focus(); // the answer that changes nothing is the one Enter gives
  });
}

/** With OpenID Connect sign-in on (GET /api/oidc answers), a "Sign in with <provider>" link. */
async function offerProviderSignIn() {
  let provider;
  try {
    provider = await api("/api/oidc");
  } catch (error) {
    return; // off (404): sign-in links only
  }
  const link = h("a.button.primary#oidc-sign-in", { href: provider.login_url }, t("signInWith", { name: provider.provider_name }));
  document.getElementById("main").append(h("p.actions", {}, link));
}

async function whoAmI() {
  try {
    me = await api("/api/me");
    setCsrfToken(me.csrf_token);
  } catch (error) {
    me = null;
    if (error.code !== "unauthorized") showError(error);
  }
}

function renderChrome() {
  document.title = "ChatTrain";
  document.querySelector(".skip").textContent = t("skip");
  document.getElementById("lang-label").textContent = t("language");
  const nav = clear(document.getElementById("nav"));
  const who = document.getElementById("who");
  const signOut = document.getElementById("sign-out");
  signOut.textContent = t("signOut");
  if (!me) {
    who.textContent = "";
    signOut.hidden = true;
    return;
  }
  const links = me.role === "trainer"
    ? [["#/sessions", t("navSessions")], ["#/stats", t("navStats")], ["#/people", t("navPeople")], ["#/practice", t("navPractice")]]
    : [["#/", t("navPractice")]];
  let current = (location.hash || "#/").split("?")[0];
  if (me.role === "trainer" && current === "#/") current = "#/sessions"; // a trainer's home is the session list
  nav.append(h("ul", {}, links.map(([href, label]) => h("li", {}, h("a", { href, "aria-current": current === href ? "page" : null }, label)))));
  who.textContent = t("signedInAs", { name: me.display_name || me.id, role: t(me.role) });
  signOut.hidden = false;
}

// Views load data before they draw: routes run one after another, so the last address
// asked for is the one drawn, however long an earlier view took.
let routing = Promise.resolve();
function route() {
  routing = routing.then(drawRoute, drawRoute);
  return routing;
}

async function drawRoute() {
  const main = document.getElementById("main");
  main.setAttribute("aria-busy", "true"); // until the view has its data
  try {
    await drawView();
  } finally {
    main.setAttribute("aria-busy", "false");
    main.dataset.view = location.hash || "#/"; // which address is drawn (the browser tests wait on it)
  }
}

async function drawView() {
  if (leaveView) {
    leaveView();
    leaveView = null;
  }
  showError(null);
  say(notice || "");
  notice = null;
  renderChrome();
  if (!me) {
    setMain(h("h1", {}, t("signInTitle")), h("p", {}, t("signInHelp")));
    if (signInError) showError(signInError);
    await offerProviderSignIn();
    return;
  }
  const [path, queryString] = (location.hash.replace(/^#/, "") || "/").split("?");
  const query = new URLSearchParams(queryString || "");
  const parts = path.split("/").filter(Boolean);
  try {
    if (parts[0] === "chat" && /^\d+$/.test(parts[1] || "")) leaveView = await chatView(Number(parts[1]), me);
    else if (parts[0] === "session" && /^\d+$/.test(parts[1] || "")) await reviewView(Number(parts[1]), me);
    else if (parts[0] === "sessions" && me.role === "trainer") await trainerHome(me, query);
    else if (parts[0] === "stats" && me.role === "trainer") await statsView();
    else if (parts[0] === "people" && me.role === "trainer") await peopleView(me);
    else if (parts[0] === "practice") await traineeHome(me);
    else if (parts.length === 0) await (me.role === "trainer" ? trainerHome(me, query) : traineeHome(me));
    else setMain(h("h1", {}, t("notFound")));
  } catch (error) {
    setMain(h("h1", {}, t("notFound")), h("p.error", {}, errorSentence(error)));
    if (error.code === "unauthorized") me = null;
  }
  // Move focus to the new view (for screen readers and keyboards) unless it placed it.
  const main = document.getElementById("main");
  if (!main.contains(document.activeElement) || document.activeElement === document.body) main.focus({ preventScroll: true });
}

async function start() {
  setLang(lang());
  const picker = document.getElementById("lang");
  picker.value = lang();
  picker.addEventListener("change", () => {
    setLang(picker.value);
    route();
  });
  document.getElementById("sign-out").addEventListener("click", async () => {
    try {
      await api("/api/sign-out", { method: "POST" });
    } catch (error) {
      /* signed out already */
    }
    me = null;
    setCsrfToken(null);
    location.hash = "#/";
    await route();
    say(t("signedOut"));
  });
  document.querySelector(".skip").addEventListener("click", (event) => {
    event.preventDefault(); // the fragment is the router's: move focus instead
    document.getElementById("main").focus();
  });
  await signInFromLink();
  await whoAmI();
  window.addEventListener("hashchange", () => {
    if (/^#sign-in=/.test(location.hash)) signInFromLink().then(whoAmI).then(route);
    else route();
  });
  await route();
}

start();
