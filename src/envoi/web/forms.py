"""Console forms. They check shape only (lengths, choices); every rule of the product is
the core service's, and its refusal is shown on the form, next to the field it names."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth.models import User
from django.utils.translation import gettext_lazy as _

from envoi.accounts.roles import Role
from envoi.audiences.models import Audience
from envoi.web.labels import ROLE_LABELS


class DeliveryForm(forms.Form):
    label = forms.CharField(label=_("Label"), max_length=200)
    sender = forms.CharField(label=_("Sender"), max_length=320,
                             help_text=_("For example: Shop <news@shop.example.com>"))
    reply_to = forms.CharField(label=_("Reply to"), max_length=320, required=False)
    subject = forms.CharField(label=_("Subject"), max_length=998)
    audience = forms.ModelChoiceField(label=_("Audience"), queryset=Audience.objects.none(),
                                      required=False, empty_label=_("(none)"))
    html_body = forms.CharField(label=_("HTML content"), required=False,
                                widget=forms.Textarea(attrs={"rows": 12, "spellcheck": "false"}))
    text_body = forms.CharField(label=_("Text content"), required=False,
                                widget=forms.Textarea(attrs={"rows": 6}))
    is_marketing = forms.BooleanField(
        label=_("Marketing message (must carry an unsubscribe link)"), required=False,
        initial=True)
    approval_required = forms.BooleanField(label=_("Approval required before sending"),
                                           required=False, initial=True)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["audience"].queryset = Audience.objects.order_by("name")  # type: ignore[attr-defined]

    def show_refusal(self, message: str) -> None:
        """Attach the core's refusal to the field it names ("subject: ..."), if any."""
        field, _, rest = message.partition(":")
        if field in self.fields and rest:
            self.add_error(field, rest.strip())
        else:
            self.add_error(None, message)


class AudienceForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=200)
    filter = forms.CharField(
        label=_("Filter"), required=False,
        widget=forms.Textarea(attrs={"rows": 6, "spellcheck": "false",
                                     "placeholder": 'language = "ko" and attributes.vip = true'}))


ROLE_CHOICES = [(role.value, ROLE_LABELS[role]) for role in Role]


class UserForm(forms.Form):
    username = forms.CharField(label=_("User name"), max_length=150)
    password = forms.CharField(label=_("Password"), widget=forms.PasswordInput, min_length=8)
    roles = forms.MultipleChoiceField(label=_("Roles"), choices=ROLE_CHOICES, required=False,
                                      widget=forms.CheckboxSelectMultiple)

    def clean_username(self) -> str:
        name = self.cleaned_data["username"]
        if User.objects.filter(username=name).exists():
            raise forms.ValidationError(_("A user with this name exists already."))
        return name


class RolesForm(forms.Form):
    roles = forms.MultipleChoiceField(label=_("Roles"), choices=ROLE_CHOICES, required=False,
                                      widget=forms.CheckboxSelectMultiple)
