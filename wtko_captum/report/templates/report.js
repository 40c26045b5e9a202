"use strict";
/* Sortable tables: click a header; numbers (data-type="num") compare as numbers, empty cells last. */
function sortTable(th) {
  const table = th.closest("table"), body = table.tBodies[0];
  const col = Array.prototype.indexOf.call(th.parentNode.children, th);
  const numeric = th.dataset.type === "num";
  const dir = th.classList.contains("asc") ? -1 : 1;
  table.querySelectorAll("th").forEach(h => h.classList.remove("asc", "desc"));
  th.classList.add(dir === 1 ? "asc" : "desc");
  const key = row => {
    const cell = row.children[col];
    const raw = cell ? (cell.dataset.sort !== undefined ? cell.dataset.sort : cell.textContent) : "";
    if (raw === "") return null;
    return numeric ? parseFloat(raw) : raw.toLowerCase();
  };
  const rows = Array.from(body.rows);
  rows.sort((a, b) => {
    const x = key(a), y = key(b);
    if (x === null || (numeric && isNaN(x))) return (y === null || (numeric && isNaN(y))) ? 0 : 1;
    if (y === null || (numeric && isNaN(y))) return -1;
    return (x < y ? -1 : x > y ? 1 : 0) * dir;
  });
  rows.forEach(r => body.appendChild(r));
}
document.querySelectorAll("table.sortable th").forEach(th => th.addEventListener("click", () => sortTable(th)));

/* The track view: igv.js from the inline config; its state is written to body[data-igv]. */
const igvConfig = JSON.parse(document.getElementById("igv-config").textContent);
const igvStatus = document.getElementById("igv-status");
let igvBrowser = null;
if (igvConfig && window.igv) {
  document.body.dataset.igv = "loading";
  igv.createBrowser(document.getElementById("igv-view"), igvConfig).then(browser => {
    igvBrowser = browser;
    document.body.dataset.igv = "ready";
    igvStatus.textContent = "";
  }).catch(err => {
    document.body.dataset.igv = "error";
    igvStatus.textContent = "The track view could not start: " + err;
    igvStatus.classList.add("error");
  });
}

/* Region picker: a row click shows that window; the buttons filter rows by group or true class. */
const picker = document.getElementById("table-picker");
if (picker) {
  picker.tBodies[0].addEventListener("click", ev => {
    const row = ev.target.closest("tr");
    if (!row || !igvBrowser) return;
    picker.querySelectorAll("tr.current").forEach(r => r.classList.remove("current"));
    row.classList.add("current");
    igvBrowser.search(row.dataset.locus);
    document.getElementById("tracks").scrollIntoView({behavior: "smooth"});
  });
  document.querySelectorAll("#picker-filters button").forEach(button => button.addEventListener("click", () => {
    document.querySelectorAll("#picker-filters button").forEach(b => b.classList.toggle("on", b === button));
    const f = button.dataset.filter, sep = f.indexOf(":");
    const kind = f.slice(0, sep), value = f.slice(sep + 1);
    Array.from(picker.tBodies[0].rows).forEach(row => {
      const show = !f || (kind === "group" ? row.dataset.groups.split("|").includes(value) : row.dataset[kind] === value);
      row.style.display = show ? "" : "none";
    });
  }));
}
