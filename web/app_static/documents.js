// A scenario's documents beside the chat: Markdown rendered safely (renderMarkdown builds
// DOM nodes), other files opened or downloaded.
import { fetchText } from "./api.js";
import { h, clear } from "./dom.js";
import { t, errorSentence } from "./i18n.js";
import { renderMarkdown } from "./markdown.js";

export function documentsPanel(scenario) {
  // Focusable (tabindex 0) so a keyboard can scroll a long document.
  const viewer = h("article.doc-view", { tabindex: "0", "aria-label": t("documents") });
  const list = h("ul.doc-list", {});
  for (const doc of scenario.documents || []) {
    const isMarkdown = /\.(md|markdown|txt)$/i.test(doc.filename);
    const button = isMarkdown
      ? h("button.link", { type: "button", "aria-controls": "doc-view", onclick: () => openDoc(doc) }, doc.title || doc.filename)
      : h("a", { href: doc.url, download: doc.filename }, `${doc.title || doc.filename} (${t("docDownload")})`);
    list.append(h("li", {}, button));
  }
  viewer.id = "doc-view";

  async function openDoc(doc) {
    clear(viewer).append(h("p.muted", {}, t("loading")));
    try {
      const text = await fetchText(doc.url);
      clear(viewer).append(renderMarkdown(text));
      viewer.setAttribute("aria-label", doc.title || doc.filename);
    } catch (error) {
      clear(viewer).append(h("p.error", {}, errorSentence(error)));
    }
    viewer.focus();
  }
  return h("aside.docs", { "aria-labelledby": "docs-title" }, h("h2#docs-title", {}, t("documents")), list, viewer);
}
