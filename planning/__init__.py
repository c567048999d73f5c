"""National RCP planning: RCPs, sessions, registrations, notifications and calendar feeds."""
