"""Infrastructure the features share: database, storage, broker, security, logging."""
