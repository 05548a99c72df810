from qpt.commands import main

raise SystemExit(main())
