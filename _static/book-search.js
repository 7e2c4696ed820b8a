// Search results' snippets: Sphinx takes a page's text from its [role=main]
// element, which in this theme also holds the page's header buttons, the
// section numbers and the previous/next links. The snippet is taken from the
// article's own text instead (the section a result points at, if any).
document.addEventListener("DOMContentLoaded", () => {
  if (typeof Search === "undefined" || !Search.htmlToText) return;
  const chrome = [
    ".headerlink", "script", "style", ".section-number", ".bd-header-article",
    ".header-article-items", ".prev-next-area", ".prev-next-footer", "nav",
    "button", ".copybtn", "#jb-print-docs-body", ".onlyprint", ".tag_remove-input",
  ].join(", ");
  Search.htmlToText = (htmlString, anchor) => {
    const doc = new DOMParser().parseFromString(htmlString, "text/html");
    doc.querySelectorAll(chrome).forEach((el) => el.remove());
    const article = doc.querySelector("article.bd-article") || doc.querySelector('[role="main"]');
    if (!article) return "";
    let block = null;
    if (anchor) {
      try { block = article.querySelector(anchor); } catch (e) { block = null; }
    }
    // Math is TeX in the page's source: drop its \( \) delimiters.
    return ((block || article).textContent || "").replace(/\\[()[\]]/g, "")
      .replace(/\s+/g, " ").trim();
  };
});
