/* Loaded by every page (bifrost_site/base.html): times in the browser's time zone, durations in words,
 * and the account menu closing on Escape or a click elsewhere. window.Bifrost is shared with page scripts. */
(function (global) {
  "use strict";

  var formatter = null;
  try {
    formatter = new Intl.DateTimeFormat(undefined, {
      year: "numeric", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", second: "2-digit"
    });
  } catch (err) {
    formatter = null;
  }

  function utcText(date) {
    return date.toISOString().substring(0, 19).replace("T", " ") + " UTC";
  }

  /* "7 Dec 2026, 13:47:45" in the browser's zone; "" for a value that is not a date. */
  function localText(iso) {
    var date = new Date(iso);
    if (isNaN(date.getTime())) return "";
    return formatter ? formatter.format(date) : date.toLocaleString();
  }

  /* Fill a <time datetime> with the local time; the UTC time stays in its title (shown on hover). */
  function localizeTime(node) {
    var iso = node.getAttribute("datetime");
    var date = new Date(iso);
    if (!iso || isNaN(date.getTime())) return;
    node.textContent = localText(iso);
    node.title = utcText(date);
  }

  function localizeAll(root) {
    Array.prototype.forEach.call((root || document).querySelectorAll("time[data-local]"), localizeTime);
  }

  /* Mirrors bifrost_site/templatetags/portal.py format_duration. */
  function formatDuration(ms) {
    if (ms === null || ms === undefined || ms === "") return "—";
    ms = Math.max(0, Math.round(Number(ms)));
    if (ms < 1000) return ms + " ms";
    var seconds = ms / 1000;
    if (seconds < 10) return seconds.toFixed(1).replace(/\.0$/, "") + " s";
    seconds = Math.round(seconds);
    if (seconds < 60) return seconds + " s";
    var minutes = Math.floor(seconds / 60);
    seconds = seconds % 60;
    if (minutes < 60) return seconds ? minutes + " min " + seconds + " s" : minutes + " min";
    var hours = Math.floor(minutes / 60);
    minutes = minutes % 60;
    return minutes ? hours + " h " + minutes + " min" : hours + " h";
  }

  function accountMenu() {
    var menu = document.getElementById("account-menu");
    if (!menu) return;
    document.addEventListener("keydown", function (event) {
      if (event.key === "Escape" && menu.open) {
        menu.open = false;
        menu.querySelector("summary").focus();
      }
    });
    document.addEventListener("click", function (event) {
      if (menu.open && !menu.contains(event.target)) menu.open = false;
    });
  }

  global.Bifrost = {
    formatDuration: formatDuration,
    localText: localText,
    localizeTime: localizeTime,
    localizeAll: localizeAll
  };

  localizeAll(document);
  accountMenu();
  document.documentElement.dataset.timesLocalized = "true";
})(window);
