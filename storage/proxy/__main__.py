"""``python -m storage.proxy`` / ``cumulo-object-proxy``: run one object proxy."""

import sys

from storage.proxy.main import main

if __name__ == "__main__":
    sys.exit(main())
