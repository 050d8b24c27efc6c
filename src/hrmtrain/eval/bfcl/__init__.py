"""BFCL (the Berkeley Function Calling Leaderboard) on the served L-Module, by BFCL's own code, from a
separate environment: environment.py makes it, runner.py drives BFCL's CLI, stage.py is the command."""
