"""Process setup: configuration groups read from the environment."""
