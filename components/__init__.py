"""ComponentResources of kanna-infra: one per file, each given its dependencies explicitly."""
