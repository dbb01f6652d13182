"""``python -m deepseek_server``."""

import sys

from deepseek_server.cli import main

sys.exit(main())
