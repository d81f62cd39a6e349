"""Every main page at a phone's width (390 px) and at a desktop's, in English, Korean and
Japanese: nothing makes the page scroll sideways (wide tables scroll inside their card),
the header wraps, and no badge breaks one character per line. Screenshots of each go to
``artifacts/``."""

from __future__ import annotations

import pytest

from envoi.accounts.roles import Role
from envoi.accounts.services import set_roles
from envoi.audiences.models import Audience, Profile
from envoi.sending.models import OutboxMessage
from tests.web.browser import screenshot
from tests.web.test_pages import crowded, scheduled, sent_delivery  # noqa: F401  (fixtures)

pytestmark = pytest.mark.django_db(transaction=True)
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}

# A page's horizontal overflow, and the badges a narrow column squeezed into a tower.
LAYOUT_PROBLEMS = """() => {
  const problems = [];
  const overflow = document.documentElement.scrollWidth - window.innerWidth;
  if (overflow > 1) { problems.push('the page scrolls sideways by ' + overflow + ' px'); }
  document.querySelectorAll('.status, .send, .tag, .badge').forEach((badge) => {
    const line = parseFloat(getComputedStyle(badge).fontSize) * 1.6;
    const tall = badge.getBoundingClientRect().height > 2 * line;
    if (badge.innerText.trim().length > 1 && tall) {
      problems.push('badge broken over lines: ' + badge.innerText);
    }
  });
  return problems;
}"""


def main_pages(delivery) -> dict[str, str]:
    profile = Profile.objects.filter(email="minji@example.com").first() or Profile.objects.first()
    audience = Audience.objects.order_by("id").first()
    message = OutboxMessage.objects.order_by("id").first()
    return {
        "deliveries": "/deliveries/", "delivery-new": "/deliveries/new/",
        "dashboard": f"/deliveries/{delivery.pk}/",
        "delivery-edit": f"/deliveries/{delivery.pk}/edit/",
        "profiles": "/profiles/", "profile": f"/profiles/{profile.pk}/",
        "audiences": "/audiences/", "audience": f"/audiences/{audience.pk}/",
        "outbox": "/outbox/", "outbox-message": f"/outbox/{message.pk}/",
        "quarantine": "/quarantine/", "users": "/admin/users/", "audit": "/admin/audit/",
        "tokens": "/tokens/", "workers": "/workers/",
    }


@pytest.mark.parametrize("language", ["en", "ko", "ja"])
def test_main_pages_fit_a_phone_and_a_desktop(crowded, scheduled, people,  # noqa: F811
                                              language):
    person = people(f"walker-{language}", "administration", language)
    from django.contrib.auth.models import User

    set_roles(User.objects.get(username=f"walker-{language}"), [r.value for r in Role])
    page = person.page
    problems = {}
    for name, url in main_pages(crowded).items():
        for size_name, size in (("390", PHONE), ("desktop", DESKTOP)):
            page.set_viewport_size(size)
            page.goto(url)
            page.wait_for_load_state("networkidle")
            found = page.evaluate(LAYOUT_PROBLEMS)
            if found and size is PHONE:
                problems[f"{name} at 390 px"] = found
            screenshot(page, f"page-{name}-{size_name}-{language}")
    assert problems == {}, "\n".join(f"{k}: {v}" for k, v in problems.items())
