import sys

from b2release.cli import main

sys.exit(main())
