"""What each role allows, in one line, read from the one role table.

The users page shows these lines so that an administrator granting a role sees what it
grants. They are built from :data:`envoi.accounts.roles.ACTION_ROLES`, so a permission
added there appears here; ``tests/web/test_role_words.py`` fails until it has words.
"""

from __future__ import annotations

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext

from envoi.accounts.roles import ACTION_ROLES, Role

# What a permission lets someone do.
DOING = {
    "delivery.create": gettext_lazy("create deliveries"),
    "delivery.edit": gettext_lazy("edit them"),
    "delivery.delete": gettext_lazy("delete unsent ones"),
    "delivery.prepare": gettext_lazy("prepare them"),
    "delivery.proof": gettext_lazy("send proofs"),
    "delivery.approve": gettext_lazy("approve deliveries"),
    "delivery.reject": gettext_lazy("reject them"),
    "delivery.confirm": gettext_lazy("confirm sends"),
    "delivery.activate": gettext_lazy("activate recurring deliveries"),
    "delivery.pause": gettext_lazy("pause"),
    "delivery.resume": gettext_lazy("resume"),
    "delivery.stop": gettext_lazy("stop"),
    "profile.import": gettext_lazy("import profiles"),
    "profile.mark_test": gettext_lazy("mark test profiles"),
    "profile.export": gettext_lazy("export profiles"),
    "profile.edit": gettext_lazy("edit profiles"),
    "consent.record": gettext_lazy("record consent"),
    "consent.erase": gettext_lazy("erase profiles"),
    "consent.export": gettext_lazy("export a person's data"),
    "sending_domain.manage": gettext_lazy("manage sending domains and DKIM keys"),
    "audience.edit": gettext_lazy("edit audiences"),
    "logs.export": gettext_lazy("export profiles, logs and KPIs"),
    "users.manage": gettext_lazy("manage users and roles"),
    "token.manage": gettext_lazy("manage everyone's API tokens"),
    "quarantine.manage": gettext_lazy("release quarantined addresses"),
    "qualification.manage": gettext_lazy("edit qualification rules"),
    "template.edit": gettext_lazy("edit templates"),
    "image.upload": gettext_lazy("upload images"),
    "metrics.view": gettext_lazy("read the metrics"),
    "brand.manage": gettext_lazy("set the brand of recipient pages"),
}

# What a viewing permission lets someone see.
SEEING = {
    "delivery.view": gettext_lazy("deliveries"),
    "profile.view": gettext_lazy("profiles"),
    "logs.view": gettext_lazy("logs"),
    "outbox.view": gettext_lazy("the outbox"),
    "quarantine.view": gettext_lazy("the quarantine"),
    "bounces.view": gettext_lazy("received bounces"),
    "template.view": gettext_lazy("templates"),
    "workers.view": gettext_lazy("workers"),
    "sending_domain.view": gettext_lazy("sending domains"),
}


def allows(role: Role) -> str:
    """One line: what ``role`` may do, then what it may see."""
    actions = [action for action, roles in ACTION_ROLES.items() if role in roles]
    separator = pgettext("list separator", ", ")
    doing = separator.join(str(DOING[a]) for a in actions if a in DOING)
    seeing = separator.join(str(SEEING[a]) for a in actions if a in SEEING)
    if doing and seeing:
        return _("%(doing)s. Sees %(seeing)s.") % {"doing": doing, "seeing": seeing}
    if seeing:
        return _("Sees %(seeing)s.") % {"seeing": seeing}
    return _("%(doing)s.") % {"doing": doing} if doing else ""


def role_lines() -> list[tuple[Role, str]]:
    return [(role, allows(role)) for role in Role]
