from kros_mcp.cli import main

raise SystemExit(main())
