"""The kit's grading side: catalogue, loaders, the build of student material, hidden suites."""
