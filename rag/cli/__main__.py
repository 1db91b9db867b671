"""``python -m rag.cli ARGS`` runs the ``rag`` command."""

import sys

from rag.cli.commands import main

sys.exit(main())
