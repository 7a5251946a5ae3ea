"""``python -m controller`` / ``cumulo-controller``: run one controller process."""

import sys

from controller.server import main

if __name__ == "__main__":
    sys.exit(main())
