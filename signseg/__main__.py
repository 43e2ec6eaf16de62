import sys

from signseg.cli import main

sys.exit(main())
