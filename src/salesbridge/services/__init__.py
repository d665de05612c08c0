"""Use cases. Each takes its collaborators (connector factory, unit-of-work factory, clock) as arguments."""
