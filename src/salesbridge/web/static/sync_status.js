// Keeps the Sync section of CRM Settings current: polls the sync status every two seconds and updates the last
// sync date, the "Importing…" marker and every table's row (last success, counts, failures; rows of tables
// imported for the first time are added), so nobody has to reload the page after pressing "Sync now".
"use strict";

(() => {
  const section = document.querySelector("[data-sync-status-url]");
  if (!section) {
    return;
  }
  const lastSync = section.querySelector("[data-testid=last-sync]");
  const running = section.querySelector("[data-testid=sync-running]");
  // "Dynamics is throttling requests…: tries again at …", in the reader's language (the status's words).
  const throttled = section.querySelector("[data-testid=sync-throttled]");
  const tables = section.querySelector("[data-testid=sync-tables]");
  // Each CRM table by its name in the page's language, as the server names the rows it renders.
  const tableNames = JSON.parse(section.dataset.tableNames || "{}");
  // The page language's formats, as the server writes them (CLDR's, through Babel there and Intl here):
  // "Mar 2, 2026, 9:00:00 AM UTC" and "1,234" in English, "2 mar 2026, 9:00:00 UTC" in Spanish.
  const lang = document.documentElement.lang || "en";
  const times = new Intl.DateTimeFormat(lang, { dateStyle: "medium", timeStyle: "medium", timeZone: "UTC" });
  // Babel groups every number of four digits or more ("1.234" in Spanish too); Intl would not without "always".
  const counts = new Intl.NumberFormat(lang, { useGrouping: "always" });
  const formatTime = (iso) => `${times.format(new Date(iso))} UTC`;
  const formatCount = (value) => counts.format(Number(value));

  const cell = (row, field) => {
    let found = row.querySelector(`[data-field=${field}]`);
    if (!found) {
      found = document.createElement("td");
      found.dataset.field = field;
      // Named after its column, as the server's cells are (shown when rows are stacked on a phone).
      found.dataset.label = tables.tHead.rows[0].cells[row.cells.length].textContent.trim();
      row.appendChild(found);
    }
    return found;
  };

  const rowOf = (name) => {
    const body = tables.tBodies[0];
    const existing = Array.from(body.rows).find((row) => row.dataset.table === name);
    if (existing) {
      return existing;
    }
    const row = body.insertRow();
    row.dataset.testid = "sync-table-row";
    row.dataset.table = name;
    row.insertCell().textContent = tableNames[name] || name;
    return row;
  };

  const showTable = (table) => {
    const row = rowOf(table.table);
    const success = cell(row, "last_success_at");
    if (success.dataset.value !== (table.last_success_at || "")) {
      success.dataset.value = table.last_success_at || "";
      success.textContent = table.last_success_at ? formatTime(table.last_success_at) : "—";
    }
    cell(row, "row_count").textContent = formatCount(table.row_count);
    cell(row, "rows_imported").textContent = formatCount(table.rows_imported);
    cell(row, "rows_deleted").textContent = formatCount(table.rows_deleted);
    const failures = cell(row, "consecutive_failures");
    failures.textContent = "";
    if (table.consecutive_failures) {
      const badge = document.createElement("span");
      badge.className = "badge badge--muted";
      badge.title = table.last_error || "";
      badge.textContent = String(table.consecutive_failures);
      failures.appendChild(badge);
    }
  };

  const refresh = async () => {
    try {
      const response = await fetch(section.dataset.syncStatusUrl, { credentials: "same-origin" });
      if (!response.ok) {
        return;
      }
      const status = await response.json();
      if (status.last_sync_at && status.last_sync_at !== lastSync.dataset.value) {
        lastSync.dataset.value = status.last_sync_at;
        lastSync.textContent = formatTime(status.last_sync_at);
      }
      running.hidden = !(status.running_since || status.queued);
      if (throttled) {
        throttled.textContent = status.throttled_message || "";
        throttled.hidden = !status.throttled_message;
      }
      if (tables && status.tables.length) {
        status.tables.forEach(showTable);
        tables.hidden = false;
      }
    } catch (error) {
      // The next poll tries again.
    }
  };

  window.setInterval(refresh, 2000);
})();
