import pytest

from forms_app.tests.fakes import FakeEngine


@pytest.fixture
def engine(monkeypatch):
    """The recording engine stand-in (see fakes.py); replaced by the real engine after merge."""
    return FakeEngine(
        providers={
            "licences": lambda inputs: [
                {"label": f"{inputs.get('tier', 'basic')} A", "value": "lic_a"},
                {"label": f"{inputs.get('tier', 'basic')} B", "value": "lic_b"},
            ]
        }
    ).install(monkeypatch)
