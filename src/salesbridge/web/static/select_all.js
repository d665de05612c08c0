// The select-all checkbox at the top left of a list: checks or clears every row, and shows a mixed state when
// only some rows are checked. Without JavaScript the rows are still checked one by one.
"use strict";

document.querySelectorAll("input[type=checkbox][data-select-all]").forEach((master) => {
  const name = master.dataset.selectAll;
  const form = master.form || master.closest("form");
  const rows = () => Array.from(form.querySelectorAll(`input[type=checkbox][name="${name}"]`));
  const count = form.querySelector("[data-testid=selection-count]");

  const refresh = () => {
    const boxes = rows();
    const checked = boxes.filter((box) => box.checked).length;
    master.checked = checked > 0 && checked === boxes.length;
    master.indeterminate = checked > 0 && checked < boxes.length;
    if (count) {
      count.textContent = `${checked} / ${boxes.length}`;
    }
  };

  master.addEventListener("change", () => {
    rows().forEach((box) => {
      box.checked = master.checked;
    });
    refresh();
  });
  rows().forEach((box) => box.addEventListener("change", refresh));
  refresh();
});
