"""The live GitHub API: a polite HTTP client, GraphQL batches, search splitting, the scraper."""
