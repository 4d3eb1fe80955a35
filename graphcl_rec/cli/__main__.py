"""``python -m graphcl_rec.cli`` (what ``torchrun -m graphcl_rec.cli`` runs)."""

import sys

from graphcl_rec.cli.main import main

if __name__ == "__main__":
    sys.exit(main())
