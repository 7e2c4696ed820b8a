// Accessibility fixes for markup the book does not write itself (checked by
// axe-core in the browser tests).
document.addEventListener("DOMContentLoaded", () => {
  // Matplotlib's JavaScript animations (chapter 2) have a frame slider without
  // a label: screen readers would announce an unnamed slider.
  for (const slider of document.querySelectorAll("input.anim-slider:not([aria-label])")) {
    slider.setAttribute("aria-label", "Animation frame");
  }
  // The bibliography's citation list says role="list", but its entries are
  // role="doc-biblioentry" with anchors between them, not list items.
  for (const list of document.querySelectorAll('.citation-list[role="list"]')) {
    list.removeAttribute("role");
  }
});
