"""``python -m hullscope.cli`` runs the ``hullscope`` command."""
import sys

from . import main

sys.exit(main())
