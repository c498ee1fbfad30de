"""The audience: the subscriber store, address rules, imports and the returns (bounces, complaints)."""
