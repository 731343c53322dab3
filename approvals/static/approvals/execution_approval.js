/* The run page's approval card, live (DESIGN §16, §18). Every decision moves the run out of AwaitingApproval
 * (approved → Pending, rejected → Rejected, expired → Expired, cancelled → Cancelled) in the same transaction
 * as the approval row, and the run page's socket reports each status change (log_viewer.js re-dispatches it
 * as the document event "bifrost:execution-status"). When the status differs from the one the card was
 * rendered for, the card is fetched again from the server (approvals.views.execution_approval_block, the
 * run page's own permission checks) and swapped in. Once the card shows a decision it never changes again,
 * so later statuses (Running, Success) fetch nothing. A card that still says "pending" for a run that left
 * AwaitingApproval (a cancel's request is closed just after the run) is fetched again a few times. */
(function () {
  "use strict";

  const block = document.getElementById("approval-live");
  if (!block) return;
  const RETRIES = 5;

  let renderedFor = block.dataset.runStatus; // the run status the card on the page reflects
  let latest = renderedFor;
  let request = 0; // only the newest answer is shown
  let retries = 0;
  let timer = null;

  function settled() {
    return block.dataset.approvalStatus !== "pending";
  }

  async function refresh() {
    timer = null;
    const mine = ++request;
    const status = latest;
    let response;
    try {
      response = await fetch(block.dataset.url, {
        credentials: "same-origin",
        cache: "no-store",
        headers: { Accept: "text/html" },
      });
    } catch (err) {
      return; // offline: the next status change tries again; the card keeps what it showed
    }
    // A redirect is the sign-in page (the session ended): never swap that in.
    if (!response.ok || response.redirected || mine !== request) return;
    const html = await response.text();
    if (mine !== request) return;
    const holder = document.createElement("div");
    holder.innerHTML = html; // server-rendered, escaped by the template
    const card = holder.querySelector("#approval-state");
    if (!card) return;
    const current = document.getElementById("approval-state");
    if (current) current.replaceWith(card);
    else block.appendChild(card);
    if (window.Bifrost) window.Bifrost.localizeAll(card);
    renderedFor = status;
    block.dataset.runStatus = status;
    block.dataset.approvalStatus = card.dataset.approvalStatus || "";
    if (!settled() && status !== "AwaitingApproval" && retries < RETRIES) {
      retries += 1;
      timer = window.setTimeout(refresh, 400 * retries);
    }
  }

  document.addEventListener("bifrost:execution-status", function (event) {
    const status = event.detail && event.detail.status;
    if (!status) return;
    latest = status;
    if (settled() || status === renderedFor || timer) return;
    retries = 0;
    refresh();
  });
})();
