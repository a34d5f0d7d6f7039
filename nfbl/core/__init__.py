"""Foundation: errors, taxonomy, skeleton layouts, events, pose sequences, atomic writes (numpy only)."""
