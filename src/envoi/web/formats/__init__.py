"""Date and time formats the console uses, per language, as each market writes them.

Django's defaults are close but not what a reader expects: English short times read
"2:23 p.m.", and Korean ones "2026-12-6 14:23". ``FORMAT_MODULE_PATH`` points here, and
only the formats set below differ from Django's; the rest fall through to its locales.
"""
