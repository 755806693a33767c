"""Stand-ins for services octorec cannot reach from here (the GitHub API), for tests and demos."""
