"""Running imports: the embedded scheduler and worker (one import per organization at a time)."""
