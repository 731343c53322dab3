/* A workflow's schedules in the admin (workflows/admin.py ScheduleInline): as a cron expression or time zone
   is typed, the row's "Runs" line says it in words with the next run, from POST /api/schedules/validate
   (the schedules API's own check). */
"use strict";
(function () {
    const DELAY_MS = 400;
    const timers = new WeakMap();

    function csrfToken() {
        const input = document.querySelector("input[name=csrfmiddlewaretoken]");
        return input ? input.value : "";
    }

    function message(body) {
        if (body && body.details && typeof body.details === "object") {
            const first = Object.values(body.details)[0];
            return Array.isArray(first) ? first.join(" ") : String(first);
        }
        return (body && (body.message || body.detail)) || "Not a valid schedule.";
    }

    function refresh(row) {
        const cron = row.querySelector("input[name$='-cron']");
        const zone = row.querySelector("input[name$='-timezone']");
        const preview = row.querySelector(".field-cron_preview .readonly");
        if (!cron || !preview || !cron.value.trim()) {
            return;
        }
        fetch("/api/schedules/validate", {
            method: "POST",
            credentials: "same-origin",
            headers: {"Content-Type": "application/json", "X-CSRFToken": csrfToken()},
            body: JSON.stringify({expression: cron.value, timezone: (zone && zone.value) || "UTC"}),
        }).then(function (response) {
            return response.json().then(function (body) {
                return {ok: response.ok, body: body};
            });
        }).then(function (answer) {
            if (!answer.ok) {
                preview.textContent = message(answer.body);
                preview.classList.add("errornote-inline");
                return;
            }
            const next = (answer.body.next_runs || [])[0];
            preview.classList.remove("errornote-inline");
            preview.textContent = answer.body.human_readable + (next ? " (next: " + next + ")" : "") +
                (answer.body.warning ? " — " + answer.body.warning : "");
        });
    }

    document.addEventListener("input", function (event) {
        const name = event.target.getAttribute && event.target.getAttribute("name");
        if (!name || !/^schedules-\d+-(cron|timezone)$/.test(name)) {
            return;
        }
        const row = event.target.closest(".inline-related");
        if (!row) {
            return;
        }
        clearTimeout(timers.get(row));
        timers.set(row, setTimeout(function () {
            refresh(row);
        }, DELAY_MS));
    });
})();
