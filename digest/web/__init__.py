"""The web layer: what the desk and `digest serve` share, the public pages and the published site."""
