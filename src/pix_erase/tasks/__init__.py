"""Background tasks: their state as users see it, and the runner the worker calls."""
