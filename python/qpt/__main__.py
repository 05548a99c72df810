from qpt.cli import main

raise SystemExit(main())
