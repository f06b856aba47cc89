"""Stand-ins for what cannot be reached from here (Azure), at the SDK boundary."""
