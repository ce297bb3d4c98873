// The HTML report's behaviour (page.py): filters, opening a case, drawing its ladders when
// it is first opened, and #case=ID[,ID...] in the address to open cases on load.
"use strict";
(function () {
  const form = document.getElementById("filters");
  const text = document.getElementById("text");
  const rows = Array.from(document.querySelectorAll("tr.case"));
  const detailOf = (row) => document.getElementById("detail-" + row.dataset.case);
  const isOpen = (row) => row.getAttribute("aria-expanded") === "true";

  function chosen(name) {
    const boxes = form.querySelectorAll('fieldset[data-filter="' + name + '"] input:checked');
    return new Set(Array.from(boxes, (box) => box.value));
  }

  function fits(element, wanted) {
    return (!element.dataset.verdict || wanted.verdict.has(element.dataset.verdict)) &&
      wanted.family.has(element.dataset.family) && wanted.target.has(element.dataset.target);
  }

  function apply() {
    const wanted = { verdict: chosen("verdict"), group: chosen("group"),
                     family: chosen("family"), target: chosen("target") };
    const words = text.value.trim().toLowerCase().split(/\s+/).filter(Boolean);
    let shown = 0;
    for (const row of rows) {
      const cells = Array.from(row.querySelectorAll("td.cell:not(.empty)"));
      const visible = wanted.group.has(row.dataset.group) &&
        words.every((word) => row.dataset.text.includes(word)) &&
        cells.some((cell) => fits(cell, wanted));
      row.hidden = !visible;
      detailOf(row).hidden = !visible || !isOpen(row);
      if (visible) shown += 1;
    }
    for (const column of document.querySelectorAll("[data-column]")) {
      column.classList.toggle("off", !fits(column, wanted));
    }
    for (const test of document.querySelectorAll("section.test")) test.hidden = !fits(test, wanted);
    document.getElementById("shown").textContent = shown + " of " + rows.length + " cases";
    document.getElementById("none").hidden = shown > 0;
  }

  // A ladder leaves its inert <script> for the page the first time its case opens.
  function draw(detail) {
    for (const box of detail.querySelectorAll("div.ladder[data-ladder]")) {
      box.innerHTML = document.getElementById(box.dataset.ladder).textContent;
      box.removeAttribute("data-ladder");
    }
  }

  function setOpen(row, open) {
    row.setAttribute("aria-expanded", String(open));
    if (open) draw(detailOf(row));
    detailOf(row).hidden = !open || row.hidden;
  }

  function remember() {
    const open = rows.filter(isOpen).map((row) => row.dataset.case);
    const address = open.length ? "#case=" + open.join(",") : location.pathname + location.search;
    history.replaceState(null, "", address);
  }

  function fromAddress() {
    const match = /^#case=(.+)$/.exec(location.hash);
    if (!match) return;
    const wanted = decodeURIComponent(match[1]).split(",");
    let first = null;
    for (const row of rows) {
      const open = wanted.includes(row.dataset.case);
      setOpen(row, open);
      if (open && !first) first = row;
    }
    if (first) first.scrollIntoView({ block: "start" });
  }

  for (const row of rows) {
    row.addEventListener("click", () => { setOpen(row, !isOpen(row)); remember(); });
    row.addEventListener("keydown", (event) => {
      if (event.key === "Enter" || event.key === " ") {
        event.preventDefault();
        setOpen(row, !isOpen(row));
        remember();
      }
    });
  }
  form.addEventListener("change", apply);
  form.addEventListener("submit", (event) => event.preventDefault());
  text.addEventListener("input", apply);
  window.addEventListener("hashchange", fromAddress);
  apply();
  fromAddress();
})();
