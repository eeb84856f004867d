"""Where artifacts and data live when they are not local files: S3, and the cache of what was fetched."""
