"""Pure values and rules of salesbridge; nothing here does I/O."""
