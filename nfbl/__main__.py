import sys

from nfbl.cli import main

sys.exit(main())
