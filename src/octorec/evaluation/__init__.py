"""Offline evaluation: held-out splits and ranking metrics (the `octorec evaluate` command builds
on these)."""
