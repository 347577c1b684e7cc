from seleksi.cli import main

raise SystemExit(main())
