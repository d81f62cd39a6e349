"""Sentences for people, kept translatable until the moment they are shown.

The core explains a refusal in a sentence with specifics in it ("unknown field
"colour" …"). It writes the sentence as a :class:`Words`: an English template marked for
the catalogue (``gettext_noop``) and its values, some of which may be ``Words`` of their
own. ``str()`` gives the English sentence the API answers with; a face that knows its
reader's language renders it with ``gettext`` instead, so the console shows the same
sentence in Korean or Japanese.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def _as_is(template: str) -> str:
    return template


class Words:
    __slots__ = ("template", "values")

    def __init__(self, template: str, **values: Any) -> None:
        self.template = template
        self.values = values

    def render(self, translate: Callable[[str], str] = _as_is) -> str:
        values = {name: value.render(translate) if isinstance(value, Words) else value
                  for name, value in self.values.items()}
        text = translate(self.template)
        return text % values if values else text

    def __str__(self) -> str:
        return self.render()

    def __repr__(self) -> str:
        return f"Words({self.render()!r})"

    def as_json(self) -> dict[str, Any]:
        """The template and values, to store beside the English sentence; values that
        are not numbers or Words are kept as their text."""
        return {"template": self.template, "values": {
            name: value.as_json() if isinstance(value, Words)
            else value if isinstance(value, int | float) else str(value)
            for name, value in self.values.items()}}

    @classmethod
    def from_json(cls, stored: dict[str, Any]) -> Words:
        return cls(stored["template"], **{
            name: cls.from_json(value) if isinstance(value, dict) else value
            for name, value in stored.get("values", {}).items()})


def stored_words(sentence: str | Words) -> dict[str, Any] | None:
    """What a model's JSON column keeps of a sentence: its words, or nothing for a
    plain (untranslatable) string."""
    return sentence.as_json() if isinstance(sentence, Words) else None
