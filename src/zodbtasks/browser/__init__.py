"""ZMI views of task services (Rotterdam skin)."""
