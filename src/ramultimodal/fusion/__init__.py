"""fusion stage of ramultimodal (see docs/data-model.md)."""
