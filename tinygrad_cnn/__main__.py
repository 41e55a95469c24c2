import sys

from tinygrad_cnn.cli import main

sys.exit(main())
