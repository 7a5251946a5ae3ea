"""``python -m storage.object`` / ``cumulo-object-server``: run one object server."""

import sys

from storage.object.main import main

if __name__ == "__main__":
    sys.exit(main())
