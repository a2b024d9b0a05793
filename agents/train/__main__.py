from agents.train_command import main

raise SystemExit(main())
