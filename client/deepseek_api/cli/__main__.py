"""``python -m deepseek_api.cli``: the same as the ``deepseek`` command."""

import sys

from deepseek_api.cli import main

sys.exit(main())
