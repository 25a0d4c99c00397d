from sciclip.cli import main

raise SystemExit(main())
