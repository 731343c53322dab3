import pytest

from forms_app.tests.fakes import FakeEngine


@pytest.fixture
def engine(monkeypatch):
    """A recording stand-in for the run services (see fakes.py); real runs are in test_engine_e2e.py."""
    return FakeEngine(
        providers={
            "licences": lambda inputs: [
                {"label": f"{inputs.get('tier', 'basic')} A", "value": "lic_a"},
                {"label": f"{inputs.get('tier', 'basic')} B", "value": "lic_b"},
            ]
        }
    ).install(monkeypatch)
