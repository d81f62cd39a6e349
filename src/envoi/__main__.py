import sys

from envoi.cli import main

sys.exit(main())
