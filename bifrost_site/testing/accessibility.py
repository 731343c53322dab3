"""Accessibility and layout checks for the browser tests: axe-core (vendored, test-only) and phone width.

`axe_violations(driver)` injects bifrost_site/testing/vendor/axe.min.js through WebDriver (which the page's
Content-Security-Policy does not govern) and returns the serious and critical violations of the page as
short strings; `overflows(driver)` lists what sticks out of the viewport horizontally.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

AXE_PATH = Path(__file__).parent / "vendor" / "axe.min.js"
BLOCKING_IMPACTS = ("serious", "critical")


@cache
def _axe_source() -> str:
    return AXE_PATH.read_text(encoding="utf-8")


def axe_violations(driver, impacts=BLOCKING_IMPACTS) -> list[str]:
    """The page's axe-core violations of the given impacts, as "rule: target … (help)" lines."""
    if not driver.execute_script("return typeof window.axe !== 'undefined'"):
        driver.execute_script(_axe_source())
    result = driver.execute_async_script(
        """
        const done = arguments[arguments.length - 1];
        window.axe.run(document, {resultTypes: ["violations"]})
          .then(r => done(r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                                                   targets: v.nodes.slice(0, 5).map(n => n.target.join(" "))}))))
          .catch(e => done([{id: "axe-error", impact: "critical", help: String(e), targets: []}]));
        """
    )
    return [
        f"{v['id']} ({v['impact']}): {', '.join(v['targets'])} — {v['help']}" for v in result if v["impact"] in impacts
    ]


def overflows(driver) -> list[str]:
    """Elements wider than the viewport and any horizontal scroll of the document (empty when the page fits)."""
    return driver.execute_script(
        """
        const width = document.documentElement.clientWidth;
        const out = [];
        if (document.documentElement.scrollWidth > width + 1) {
          out.push("document scrolls horizontally: " + document.documentElement.scrollWidth + " > " + width);
        }
        for (const el of document.body.querySelectorAll("*")) {
          const r = el.getBoundingClientRect();
          if (!r.width || getComputedStyle(el).visibility === "hidden") continue;
          let clipped = false;
          for (let p = el.parentElement; p && p !== document.body; p = p.parentElement) {
            const style = getComputedStyle(p);
            if (style.overflowX !== "visible" || style.position === "fixed") { clipped = true; break; }
          }
          if (!clipped && (r.right > width + 1 || r.left < -1)) {
            out.push(el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") + "." + el.className + " " +
                     Math.round(r.left) + "→" + Math.round(r.right));
          }
        }
        return out.slice(0, 10);
        """
    )
