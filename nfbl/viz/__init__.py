"""Pictures: stick-figure render and contact sheets, the event timeline."""
