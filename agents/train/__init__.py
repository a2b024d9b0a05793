"""Policy training against ZeroSearch-v0: the loop (:mod:`.loop`), policy, rollouts, algorithms, checkpoints."""
