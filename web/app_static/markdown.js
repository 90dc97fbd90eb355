// A small Markdown renderer that builds DOM nodes (never HTML strings), for the
// scenarios' documents: headings, paragraphs, lists, quotes, code, tables, emphasis,
// inline code and links. Whatever it does not understand shows as the text it is.
import { h, safeHref } from "./dom.js";

const INLINE = /(`[^`]+`)|(\*\*[^*]+\*\*|__[^_]+__)|(\*[^*\s][^*]*\*|_[^_\s][^_]*_)|(\[[^\]]+\]\([^)\s]+\))/;

export function renderInline(text) {
  const out = [];
  let rest = text;
  while (rest) {
    const match = INLINE.exec(rest);
    if (!match) {
      out.push(rest);
      break;
    }
    if (match.index) out.push(rest.slice(0, match.index));
    const token = match[0];
    if (match[1]) out.push(h("code", {}, token.slice(1, -1)));
    else if (match[2]) out.push(h("strong", {}, ...renderInline(token.slice(2, -2))));
    else if (match[3]) out.push(h("em", {}, ...renderInline(token.slice(1, -1))));
    else {
      const [, label, url] = /^\[([^\]]+)\]\(([^)\s]+)\)$/.exec(token);
      const href = safeHref(url);
      out.push(href ? h("a", { href, rel: "noopener noreferrer", target: "_blank" }, label) : token);
    }
    rest = rest.slice(match.index + token.length);
  }
  return out;
}

function splitRow(line) {
  return line.trim().replace(/^\|/, "").replace(/\|$/, "").split("|").map((cell) => cell.trim());
}

/** Render Markdown text into a DocumentFragment. */
export function renderMarkdown(text) {
  const lines = text.replace(/\r\n?/g, "\n").split("\n");
  const root = document.createDocumentFragment();
  let i = 0;
  while (i < lines.length) {
    const line = lines[i];
    if (!line.trim()) {
      i++;
      continue;
    }
    const heading = /^(#{1,6})\s+(.*)$/.exec(line);
    if (heading) {
      // Documents start at h1; inside the page they sit under its own headings.
      const level = Math.min(6, heading[1].length + 2);
      root.append(h(`h${level}`, {}, ...renderInline(heading[2])));
      i++;
      continue;
    }
    if (/^```/.test(line)) {
      const code = [];
      i++;
      while (i < lines.length && !/^```/.test(lines[i])) code.push(lines[i++]);
      i++;
      root.append(h("pre", {}, h("code", {}, code.join("\n"))));
      continue;
    }
    if (/^\s*\|/.test(line) && i + 1 < lines.length && /^\s*\|?\s*:?-{3,}/.test(lines[i + 1])) {
      const head = splitRow(line);
      i += 2;
      const body = [];
      while (i < lines.length && /^\s*\|/.test(lines[i])) body.push(splitRow(lines[i++]));
      root.append(
        h("div.table-wrap", {},
          h("table", {},
            h("thead", {}, h("tr", {}, head.map((cell) => h("th", { scope: "col" }, ...renderInline(cell))))),
            h("tbody", {}, body.map((row) => h("tr", {}, row.map((cell) => h("td", {}, ...renderInline(cell)))))))),
      );
      continue;
    }
    if (/^>\s?/.test(line)) {
      const quote = [];
      while (i < lines.length && /^>\s?/.test(lines[i])) quote.push(lines[i++].replace(/^>\s?/, ""));
      root.append(h("blockquote", {}, renderMarkdown(quote.join("\n"))));
      continue;
    }
    const listItem = /^(\s*)([-*+]|\d+[.)])\s+(.*)$/;
    if (listItem.test(line)) {
      const ordered = /\d/.test(listItem.exec(line)[2]);
      const list = h(ordered ? "ol" : "ul");
      const baseIndent = listItem.exec(line)[1].length;
      while (i < lines.length) {
        const item = listItem.exec(lines[i]);
        if (!item || item[1].length > baseIndent + 1) break;
        const parts = [item[3]];
        const nested = [];
        i++;
        while (i < lines.length && lines[i].trim() && !(listItem.exec(lines[i]) && listItem.exec(lines[i])[1].length <= baseIndent + 1)) {
          if (listItem.test(lines[i])) nested.push(lines[i].replace(/^\s{2,}/, ""));
          else if (nested.length) nested[nested.length - 1] += " " + lines[i].trim();
          else parts.push(lines[i].trim());
          i++;
        }
        list.append(h("li", {}, ...renderInline(parts.join(" ")), nested.length ? renderMarkdown(nested.join("\n")) : null));
        if (i < lines.length && !lines[i].trim() && i + 1 < lines.length && listItem.test(lines[i + 1])) i++;
      }
      root.append(list);
      continue;
    }
    const para = [];
    while (i < lines.length && lines[i].trim() && !/^(#{1,6}\s|```|>|\s*([-*+]|\d+[.)])\s)/.test(lines[i])) para.push(lines[i++].trim());
    if (!para.length) para.push(lines[i++].trim());
    root.append(h("p", {}, ...renderInline(para.join(" "))));
  }
  return root;
}
