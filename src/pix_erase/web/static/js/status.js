// Messages for everyone: polite status in a live region, errors in role=alert.

const statusEl = () => document.getElementById("status");
const alertEl = () => document.getElementById("alert");

export function say(message) {
  alertEl().textContent = "";
  statusEl().textContent = message;
}

export function fail(error) {
  const message = error instanceof Error ? error.message : String(error);
  statusEl().textContent = "";
  alertEl().textContent = message;
}

export function clearMessages() {
  statusEl().textContent = "";
  alertEl().textContent = "";
}

/** Show a <progress> while `work(update)` runs; `update(fraction)` moves it. */
export async function withProgress(progressEl, work) {
  progressEl.value = 0;
  progressEl.hidden = false;
  progressEl.removeAttribute("aria-valuetext");
  try {
    return await work((fraction) => {
      progressEl.value = Math.max(0, Math.min(1, fraction));
      progressEl.setAttribute("aria-valuetext", `${Math.round(progressEl.value * 100)}%`);
    });
  } finally {
    progressEl.hidden = true;
  }
}
