def main() -> None:
    import os
    import sys

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "envoi.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line([sys.argv[0], *sys.argv[1:]])
