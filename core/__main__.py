"""`python -m core`: the documented way to start the command-line front end (`cli/`), kept for the users and
scripts that rely on it. This launcher is the one file of core that names a front end; nothing in core imports it."""

import sys

from cli import main

sys.exit(main())
