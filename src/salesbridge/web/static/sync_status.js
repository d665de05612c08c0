// Keeps the Sync section of CRM Settings current: polls the sync status every two seconds and updates the last
// sync date and the "Importing…" marker, so nobody has to refresh the page after pressing "Sync now".
"use strict";

(() => {
  const section = document.querySelector("[data-sync-status-url]");
  if (!section) {
    return;
  }
  const lastSync = section.querySelector("[data-testid=last-sync]");
  const running = section.querySelector("[data-testid=sync-running]");
  const format = (iso) => `${iso.slice(0, 10)} ${iso.slice(11, 19)} UTC`;

  const refresh = async () => {
    try {
      const response = await fetch(section.dataset.syncStatusUrl, { credentials: "same-origin" });
      if (!response.ok) {
        return;
      }
      const status = await response.json();
      if (status.last_sync_at && status.last_sync_at !== lastSync.dataset.value) {
        lastSync.dataset.value = status.last_sync_at;
        lastSync.textContent = format(status.last_sync_at);
      }
      running.hidden = !(status.running_since || status.queued);
    } catch (error) {
      // The next poll tries again.
    }
  };

  window.setInterval(refresh, 2000);
})();
