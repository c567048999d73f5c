"""Calendar feeds of the RCP planning: private subscriptions, direct .ics fetches, validators."""
