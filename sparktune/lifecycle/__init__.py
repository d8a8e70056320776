"""One search lifecycle for every front end: evaluate, pick the best, refit, finish tracking."""
