// People (trainers): everyone who may sign in, a form to add one person, a CSV import
// that adds many, and the sign-in links to hand out (shown, selectable and copyable).
import { api } from "./api.js";
import { h, clear } from "./dom.js";
import { t, errorSentence } from "./i18n.js";
import { formatTime, say, setMain, showError } from "./views_common.js";

// The API makes links for at most this many people per request.
const LINKS_PER_REQUEST = 500;

async function copyText(text, field) {
  try {
    await navigator.clipboard.writeText(text);
  } catch (error) {
    // No clipboard permission (or not a secure context): copy from the selected field.
    field.select();
    if (!document.execCommand("copy")) {
      say(t("copyByHand"));
      return;
    }
  }
  say(t("copied"));
}

/** A labelled, read-only field holding `text`, with a Copy button. */
function copyBox(id, label, text, { multiline = false } = {}) {
  const field = multiline
    ? h(`textarea#${id}`, { readOnly: true, rows: 8, spellcheck: "false" })
    : h(`input#${id}`, { type: "text", readOnly: true, size: 60, spellcheck: "false" });
  field.value = text;
  field.addEventListener("focus", () => field.select());
  const copy = h("button", { type: "button" }, t("copy"));
  copy.addEventListener("click", () => copyText(text, field));
  return h("div.copy-box", {}, h("label", { for: id }, label), h("div.row", {}, field, copy));
}

function linkExpiry(link) {
  return t("linkWorksOnce", { when: formatTime(link.expires_at) });
}

/** Links for many people, one `user_id,link` line each, ready to paste into a sheet. */
function linksBlock(links) {
  const text = ["user_id,sign_in_link", ...links.map((link) => `${link.user_id},${link.url}`)].join("\n");
  return h("div.links", {},
    copyBox("all-links", t("allLinks", { n: links.length }), text, { multiline: true }),
    links.length ? h("p.meta", {}, linkExpiry(links[0])) : null);
}

function problemList(error) {
  const problems = Array.isArray(error.errors) ? error.errors : [];
  if (!problems.length) return null;
  return h("ul.row-problems", {}, problems.map((problem) =>
    h("li", {}, problem.line ? t("lineProblem", { line: problem.line, detail: problem.detail }) : `${problem.user_id}: ${problem.detail}`)));
}

function peopleTable(people, me, actions) {
  if (!people.length) return h("p", {}, t("noPeople"));
  return h("div.table-wrap", {},
    h("table.people", {},
      h("thead", {}, h("tr", {}, [t("colUser"), t("colName"), t("colRole"), t("colStatus"), t("colLastSignIn"), t("colManage")].map((label) => h("th", { scope: "col" }, label)))),
      h("tbody", {}, people.map((person) => {
        let link = null;
        if (!person.erased_at) {
          link = h("button", { type: "button", disabled: person.disabled, "aria-label": t("linkFor", { id: person.id }) }, t("signInLink"));
          link.addEventListener("click", () => actions.link(person, link));
        }
        let toggle = null; // no one disables themselves, and an erased account stays disabled
        if (person.id !== me.id && !person.erased_at) {
          toggle = h("button", { type: "button", "aria-label": t(person.disabled ? "enableUser" : "disableUser", { id: person.id }) }, t(person.disabled ? "enable" : "disable"));
          toggle.addEventListener("click", () => actions.toggle(person, toggle));
        }
        return h("tr", { dataset: { user: person.id } },
          h("th", { scope: "row" }, person.id),
          h("td", {}, person.display_name || "—"),
          h("td", {}, t(person.role)),
          h("td", {}, person.erased_at ? t("erased") : person.disabled ? t("disabled") : t("enabled")),
          h("td", {}, person.last_sign_in_at ? formatTime(person.last_sign_in_at) : t("never")),
          h("td.actions", {}, link, " ", toggle));
      }))));
}

export async function peopleView(me) {
  let people = await api("/api/people").then((answer) => answer.people);
  const listBox = h("div#people-list");
  const linkPanel = h("div#link-panel", { "aria-live": "polite" });

  function showLinkPanel(...children) {
    clear(linkPanel).append(...children);
    const field = linkPanel.querySelector("input, textarea");
    if (field) field.focus();
  }

  async function refresh() {
    people = (await api("/api/people")).people;
    drawList();
  }

  const actions = {
    async link(person, button) {
      button.disabled = true;
      showError(null);
      try {
        const link = await api(`/api/people/${encodeURIComponent(person.id)}/sign-in-link`, { method: "POST" });
        showLinkPanel(h("h2", {}, t("linkTitle", { id: person.id })), copyBox("one-link", t("linkLabel", { id: person.id }), link.url), h("p.meta", {}, linkExpiry(link), " ", t("linkReplaces")));
      } catch (error) {
        showError(error);
      }
      button.disabled = false;
    },
    async toggle(person, button) {
      if (!person.disabled && !confirm(t("disableConfirm", { id: person.id }))) return;
      button.disabled = true;
      showError(null);
      try {
        await api(`/api/people/${encodeURIComponent(person.id)}`, { method: "PATCH", body: { disabled: !person.disabled } });
        say(t(person.disabled ? "enabledSay" : "disabledSay", { id: person.id }));
        await refresh();
        listBox.querySelector(`tr[data-user="${CSS.escape(person.id)}"] td.actions button:last-child`)?.focus();
      } catch (error) {
        showError(error);
        button.disabled = false;
      }
    },
  };

  function drawList() {
    const waiting = people.filter((person) => !person.disabled && !person.erased_at && !person.last_sign_in_at && person.id !== me.id);
    const bulk = h("button", { type: "button", disabled: !waiting.length }, t("linksForWaiting", { n: waiting.length }));
    bulk.addEventListener("click", async () => {
      bulk.disabled = true;
      showError(null);
      try {
        const links = [];
        for (let start = 0; start < waiting.length; start += LINKS_PER_REQUEST) {
          const ids = waiting.slice(start, start + LINKS_PER_REQUEST).map((person) => person.id);
          links.push(...(await api("/api/sign-in-links", { method: "POST", body: { user_ids: ids } })).links);
        }
        showLinkPanel(h("h2", {}, t("linksTitle")), linksBlock(links), h("p.meta", {}, t("linkReplaces")));
      } catch (error) {
        showError(error);
      }
      bulk.disabled = false;
    });
    clear(listBox).append(h("p.row", {}, bulk), peopleTable(people, me, actions));
  }

  // Add one person.
  const newId = h("input#p-id", { type: "text", required: true, maxLength: 128, autocomplete: "off", spellcheck: "false", "aria-describedby": "p-id-help" });
  const newName = h("input#p-name", { type: "text", maxLength: 200, autocomplete: "off" });
  const newRole = h("select#p-role", {}, ["trainee", "trainer"].map((role) => h("option", { value: role }, t(role))));
  const addForm = h("form.filters#add-person", {},
    h("label", { for: "p-id" }, t("userId")), newId,
    h("label", { for: "p-name" }, t("displayName")), newName,
    h("label", { for: "p-role" }, t("role")), newRole,
    h("button.primary", { type: "submit" }, t("add")),
    h("p.meta#p-id-help", {}, t("userIdHelp")));
  addForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    const submit = addForm.querySelector("button[type=submit]");
    submit.disabled = true;
    showError(null);
    try {
      const body = { id: newId.value.trim(), role: newRole.value };
      if (newName.value.trim()) body.display_name = newName.value.trim();
      const added = await api("/api/people", { method: "POST", body });
      say(t("addedSay", { id: added.person.id }));
      addForm.reset();
      await refresh();
      showLinkPanel(h("h2", {}, t("linkTitle", { id: added.person.id })), copyBox("one-link", t("linkLabel", { id: added.person.id }), added.sign_in_link.url), h("p.meta", {}, linkExpiry(added.sign_in_link)));
    } catch (error) {
      showError(error);
      newId.focus();
    }
    submit.disabled = false;
  });

  // Import many from a CSV file.
  const file = h("input#p-csv", { type: "file", accept: ".csv,text/csv,text/plain", required: true, "aria-describedby": "p-csv-help" });
  const importResult = h("div#import-result", { "aria-live": "polite" });
  const importForm = h("form#import-people", {},
    h("p", {}, h("label", { for: "p-csv" }, t("csvFile")), " ", file, " ", h("button.primary", { type: "submit" }, t("import"))),
    h("p.meta#p-csv-help", {}, t("csvHelp")));
  importForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    const chosen = file.files[0];
    if (!chosen) return;
    const submit = importForm.querySelector("button[type=submit]");
    submit.disabled = true;
    showError(null);
    clear(importResult);
    say(t("importing"));
    try {
      const answer = await api("/api/people-import", { method: "POST", body: { csv: await chosen.text() } });
      say(t("importedSay", { n: answer.created.length }));
      importForm.reset();
      await refresh();
      importResult.append(h("h3", {}, t("importedTitle", { n: answer.created.length })), linksBlock(answer.created.map((entry) => entry.sign_in_link)));
      importResult.querySelector("textarea").focus();
    } catch (error) {
      say("");
      importResult.append(h("p.error", { role: "alert" }, errorSentence(error)), problemList(error));
    }
    submit.disabled = false;
  });

  drawList();
  setMain(
    h("h1", {}, t("navPeople")),
    h("section", { "aria-labelledby": "add-title" }, h("h2#add-title", {}, t("addTitle")), addForm),
    h("section", { "aria-labelledby": "import-title" }, h("h2#import-title", {}, t("importTitle")), importForm, importResult),
    linkPanel,
    h("section", { "aria-labelledby": "list-title" }, h("h2#list-title", {}, t("peopleTitle")), listBox),
  );
}
