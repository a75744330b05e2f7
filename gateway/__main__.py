"""``python -m gateway`` is the ``s3bridge`` command."""

import sys

from gateway.cli import main

sys.exit(main())
