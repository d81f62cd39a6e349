import pytest


@pytest.fixture(autouse=True)
def _consent_required(settings):
    """A new install's default: marketing deliveries need recorded consent."""
    settings.ENVOI_REQUIRE_CONSENT = True
