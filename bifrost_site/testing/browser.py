"""Browser-test helpers: daphne serving the real ASGI app on a free loopback port, and headless Chromium.

Use with `@pytest.mark.browser` and `@pytest.mark.django_db(transaction=True)`: the server is a separate
process reading the test database, so the test's data must be committed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import contextmanager

from django.conf import settings
from django.db import connection

from bifrost_site.testing.ports import free_port

CHROMIUM_FLAGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--window-size=1280,1000",
]


def _database_url() -> str:
    db = connection.settings_dict
    auth = db["USER"] or "postgres"
    if db.get("PASSWORD"):
        auth += f":{db['PASSWORD']}"
    return f"postgres://{auth}@{db['HOST'] or 'localhost'}:{db['PORT'] or 5432}/{db['NAME']}"


@contextmanager
def live_daphne(*, startup_timeout: float = 30.0):
    """Run daphne on 127.0.0.1:<free port> against the test database; yields the base URL."""
    port = free_port()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "bifrost_site.test_settings",
        "DATABASE_URL": _database_url(),
        "REDIS_KEY_PREFIX": settings.REDIS_KEY_PREFIX,
        "QUEUE_PREFIX": settings.QUEUE_PREFIX,
    }
    log = tempfile.NamedTemporaryFile(prefix="bifrost-daphne-", suffix=".log", delete=False)  # noqa: SIM115
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "daphne",
            "-b",
            "127.0.0.1",
            "-p",
            str(port),
            "bifrost_site.testing.browser_asgi:application",
        ],
        cwd=settings.BASE_DIR,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + startup_timeout
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"daphne exited early; see {log.name}")
            try:
                with urllib.request.urlopen(f"{base_url}/health/live", timeout=2):  # noqa: S310
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"daphne did not answer within {startup_timeout} s; see {log.name}") from None
                time.sleep(0.2)
        yield base_url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


@contextmanager
def headless_chromium():
    """A fresh headless Chromium (own profile directory) driven by the system chromedriver.

    The browser console is recorded: `driver.get_log("browser")` lists its messages (CSP violations
    among them)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver_path = shutil.which("chromedriver")
    if not chromium or not driver_path:
        raise RuntimeError("chromium and chromedriver are needed: run scripts/system_packages.sh")
    profile = tempfile.mkdtemp(prefix="bifrost-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in [*CHROMIUM_FLAGS, f"--user-data-dir={profile}"]:
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=driver_path), options=options)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def page_wait(driver, timeout: float = 30):
    """A WebDriverWait that looks again when the element it read was replaced meanwhile: pages redraw parts of
    themselves (a form's options from its data provider, a live status) and a POST's redirect replaces the
    whole page, so an element found a moment ago can be stale when the condition reads it."""
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout, ignored_exceptions=[StaleElementReferenceException])


def login_page_sign_in(driver, email: str, password: str, *, timeout: float = 30) -> None:
    """Sign in on the `/login/` page the browser shows: the email step ("Continue"), then the password step.
    The browser must be on the email step (`#login-form[data-step=email]`); this returns once the password
    form is submitted (the caller waits for where it leads)."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec

    wait = page_wait(driver, timeout)
    wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, "#login-form[data-step=email]")))
    driver.find_element(By.NAME, "username").send_keys(email)
    driver.find_element(By.CSS_SELECTOR, "#login-form button[type=submit]").click()
    password_field = wait.until(
        ec.presence_of_element_located((By.CSS_SELECTOR, "#login-form[data-step=password] [name=password]"))
    )
    password_field.send_keys(password)
    driver.find_element(By.CSS_SELECTOR, "#login-form button[type=submit]").click()
