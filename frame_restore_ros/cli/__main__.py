"""``python -m frame_restore_ros.cli``: the ``frame-restore`` command without the entry point."""

import sys

from frame_restore_ros.cli.main import main

sys.exit(main())
