"""The portal's frame (DESIGN §18): one base template and top bar, `/` by role, the favicon, "Global"."""

import re

import pytest
from django.test import Client

from bifrost_site.templatetags.portal import format_duration, status_label
from executions.tests.factories import ExecutionFactory

pytestmark = pytest.mark.django_db


def client_as(user):
    client = Client()
    client.force_login(user)
    return client


def test_root_sends_each_kind_of_user_to_their_home(member, admin_user):
    assert Client().get("/")["Location"] == "/login/"
    assert client_as(member).get("/")["Location"] == "/forms/"
    assert client_as(admin_user).get("/")["Location"] == "/admin/"


def nav_links(html):
    """The main navigation's links; Approvals only where that app is installed (its page URL resolves)."""
    nav = re.search(r'<nav class="mainnav"[^>]*>(.*?)</nav>', html, re.S).group(1)
    return [link for link in re.findall(r'<a href="([^"]+)"[^>]*>([^<]+)</a>', nav) if link[1] != "Approvals"]


def test_approvals_are_in_the_top_bar_only_where_the_page_exists(member):
    from django.urls import NoReverseMatch, reverse

    try:
        url = reverse("approvals:list")
    except NoReverseMatch:
        url = None
    html = client_as(member).get("/forms/").content.decode()
    assert (f'<a href="{url}"' in html) if url else ">Approvals<" not in html


@pytest.mark.parametrize("path", ["/forms/", "/executions/"])
def test_every_page_has_the_same_top_bar(path, member, admin_user, org):
    html = client_as(member).get(path).content.decode()
    assert nav_links(html) == [("/forms/", "Forms"), ("/executions/", "Runs")]
    assert 'id="account-menu"' in html and member.name in html and "Contoso" in html
    assert 'action="/logout/"' in html and "csrfmiddlewaretoken" in html
    assert 'href="/account/" id="account-link"' in html
    assert 'rel="icon" href="/static/bifrost_site/favicon.svg"' in html
    assert 'aria-current="page"' in html
    html = client_as(admin_user).get(path).content.decode()
    assert nav_links(html) == [("/forms/", "Forms"), ("/executions/", "Runs"), ("/admin/", "Admin")]
    assert "Global · platform admin" in html


def test_execution_and_sign_in_pages_share_the_base(member, org):
    execution = ExecutionFactory(organization=org, executed_by=member)
    html = client_as(member).get(f"/executions/{execution.id}/").content.decode()
    assert 'class="mainnav"' in html and "bifrost_site/site.css" in html
    html = Client().get("/login/").content.decode()
    assert "bifrost_site/site.css" in html and 'class="mainnav"' not in html and "favicon.svg" in html
    assert "Skip to content" in html
    assert 'class="signin"' not in html  # no "Sign in" link on the sign-in pages themselves


def test_the_favicon_is_served(client):
    from django.contrib.staticfiles import finders

    assert finders.find("bifrost_site/favicon.svg")


def test_global_is_spelled_one_way(admin_user):
    from forms_app.tests.factories import FormFactory

    FormFactory(organization=None, name="Global form")
    ExecutionFactory(organization=None, executed_by=admin_user)
    for path in ("/forms/", "/executions/"):
        html = client_as(admin_user).get(path).content.decode()
        assert ">Global<" in html
        assert not re.search(r">\s*(global|GLOBAL)\s*<", html)


@pytest.mark.parametrize(
    ("ms", "text"),
    [
        (None, "—"),
        (0, "0 ms"),
        (450, "450 ms"),
        (1000, "1 s"),
        (1234, "1.2 s"),
        (42_400, "42 s"),
        (72_000, "1 min 12 s"),
        (120_000, "2 min"),
        (3_780_000, "1 h 3 min"),
        (7_200_000, "2 h"),
    ],
)
def test_durations_read_like_words(ms, text):
    assert format_duration(ms) == text


def test_status_labels_are_readable():
    assert status_label("CompletedWithErrors") == "Completed with errors"
    assert status_label("Timeout") == "Timed out"
    assert status_label("SomethingNew") == "SomethingNew"


def test_not_found_pages_keep_the_top_bar(member):
    response = client_as(member).get("/executions/00000000-0000-0000-0000-000000000000/")
    assert response.status_code == 404
    html = response.content.decode()
    assert 'class="mainnav"' in html and "Page not found" in html
    assert (
        Client().get("/api/nothing-here", HTTP_ACCEPT="application/json")["Content-Type"].startswith("application/json")
    )
